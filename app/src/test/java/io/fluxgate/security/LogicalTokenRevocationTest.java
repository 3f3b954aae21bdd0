package io.fluxgate.security;

import io.fluxgate.support.LogicalDecoding;
import org.junit.jupiter.api.BeforeAll;

import org.springframework.test.context.TestPropertySource;

/**
 * Revocation with capture from the WAL: suspension, deletion and a role taken away still stop a
 * user's tokens within the bound (the near cache evicts on user_changes, now decoded from the WAL).
 */
@TestPropertySource(properties = LogicalDecoding.LOGICAL)
class LogicalTokenRevocationTest extends TokenRevocationTest {

    @BeforeAll
    static void logicalDecodingAvailable() {
        LogicalDecoding.assumeAvailable();
    }
}
