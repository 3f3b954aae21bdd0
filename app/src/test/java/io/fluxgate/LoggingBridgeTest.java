package io.fluxgate;

import java.util.concurrent.atomic.AtomicInteger;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Spring and Spring Security log lazily built messages at debug level on every request; the bridge
 * from Commons Logging to SLF4J must not build them when the level is off (at the default INFO).
 */
class LoggingBridgeTest {

    @Test
    void aMessageBelowTheLevelIsNeverFormatted() {
        AtomicInteger formatted = new AtomicInteger();
        Object message = new Object() {
            @Override
            public String toString() {
                formatted.incrementAndGet();
                return "expensive";
            }
        };
        Log log = LogFactory.getLog("org.springframework.security.web.server.util.matcher.OrServerWebExchangeMatcher");
        assertThat(log.isDebugEnabled()).isFalse();

        log.debug(message);
        log.trace(message);

        assertThat(formatted).hasValue(0);
        log.info(message);
        assertThat(formatted).hasValue(1);
    }
}
