package io.fluxgate.changes;

import io.fluxgate.support.LogicalDecoding;
import org.junit.jupiter.api.BeforeAll;

import org.springframework.test.context.TestPropertySource;

/** Subscription options with capture from the WAL: row filters, columns, several subscriptions per channel, resume per subscription. */
@TestPropertySource(properties = LogicalDecoding.LOGICAL)
class LogicalChangeStreamOptionsTest extends ChangeStreamOptionsTest {

    @BeforeAll
    static void logicalDecodingAvailable() {
        LogicalDecoding.assumeAvailable();
    }
}
