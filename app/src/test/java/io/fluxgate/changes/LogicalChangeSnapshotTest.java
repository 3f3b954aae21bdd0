package io.fluxgate.changes;

import io.fluxgate.support.LogicalDecoding;
import org.junit.jupiter.api.BeforeAll;

import org.springframework.test.context.TestPropertySource;

/** Snapshot-then-stream with capture from the WAL: rows and log position from one snapshot, then every change after it, none missing, none repeated. */
@TestPropertySource(properties = LogicalDecoding.LOGICAL)
class LogicalChangeSnapshotTest extends ChangeSnapshotTest {

    @BeforeAll
    static void logicalDecodingAvailable() {
        LogicalDecoding.assumeAvailable();
    }
}
