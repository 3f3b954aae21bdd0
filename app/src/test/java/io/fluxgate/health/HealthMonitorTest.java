package io.fluxgate.health;

import java.time.Duration;
import java.util.function.Supplier;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.TcpProxy;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Redis goes away and comes back (through a proxy the test controls): the monitor logs one alert
 * naming the cache check, nothing while the outage lasts, and one recovery line.
 */
@ExtendWith(OutputCaptureExtension.class)
@DirtiesContext // its Redis proxy is gone afterwards; nobody else should share this context
// A check timeout that means broken, not slow: on a saturated machine the database check once took over 500 ms,
// which logged alerts for it too.
@TestPropertySource(properties = {"fluxgate.health.monitor-interval=150ms", "fluxgate.health.check-timeout=3s"})
class HealthMonitorTest extends IntegrationTest {

    static final TcpProxy REDIS = TcpProxy.to(6379);

    @DynamicPropertySource
    static void redisThroughTheProxy(DynamicPropertyRegistry registry) {
        registry.add("spring.data.redis.port", REDIS::port);
    }

    @AfterAll
    static void closeProxy() {
        REDIS.close();
    }

    @Test
    void logsOneAlertWhenRedisGoesAndOneRecoveryWhenItComesBack(CapturedOutput output) {
        // Several monitor runs while all is well: none of them logs anything.
        staysTrueFor(Duration.ofMillis(500), () -> count(output, "Health alert") == 0);

        REDIS.stop();
        await(() -> count(output, "Health alert: failing checks: cache") == 1);
        // A dozen more monitor runs during the outage: none of them may log again.
        staysTrueFor(Duration.ofSeconds(2), () -> count(output, "Health alert") == 1);

        REDIS.start();
        await(() -> count(output, "Health recovered") == 1);
        staysTrueFor(Duration.ofMillis(500), () -> count(output, "Health recovered") == 1);
        assertThat(count(output, "Health alert")).isEqualTo(1);
    }

    private static int count(CapturedOutput output, String text) {
        String all = output.getAll();
        int count = 0;
        for (int at = all.indexOf(text); at >= 0; at = all.indexOf(text, at + 1)) {
            count++;
        }
        return count;
    }

    private static void await(Supplier<Boolean> condition) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(condition::get);
    }

    /** Holds throughout the period (it says nothing happens, so it has to watch for that long). */
    private static void staysTrueFor(Duration period, Supplier<Boolean> condition) {
        Awaitility.await().during(period).atMost(period.plusSeconds(10)).until(condition::get);
    }
}
