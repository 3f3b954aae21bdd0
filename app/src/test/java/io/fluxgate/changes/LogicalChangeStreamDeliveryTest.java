package io.fluxgate.changes;

import io.fluxgate.support.LogicalDecoding;
import org.junit.jupiter.api.BeforeAll;

import org.springframework.test.context.TestPropertySource;

/**
 * The delivery guarantees again, with capture from the WAL: commit order under concurrent writers,
 * exactly once across listener failures, resume and resync. Writers run no trigger here.
 */
@TestPropertySource(properties = LogicalDecoding.LOGICAL)
class LogicalChangeStreamDeliveryTest extends ChangeStreamDeliveryTest {

    @BeforeAll
    static void logicalDecodingAvailable() {
        LogicalDecoding.assumeAvailable();
    }
}
