package io.fluxgate.health;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Runs the dependency checks every {@code fluxgate.health.monitor-interval} and logs only changes: a
 * structured alert naming the failed checks when health turns bad (or the set of failures changes),
 * a recovery line when it turns good. A steady state, healthy or not, logs nothing. Spring's
 * scheduler stops it when the application shuts down.
 */
@Component
class HealthMonitor {

    private static final Logger log = LoggerFactory.getLogger(HealthMonitor.class);

    private final DependencyChecks checks;
    private final AtomicInteger failing = new AtomicInteger();
    private volatile List<String> lastFailed = List.of();

    HealthMonitor(DependencyChecks checks, MeterRegistry registry) {
        this.checks = checks;
        Gauge.builder("fluxgate.health.failing.checks", failing, AtomicInteger::get)
                .description("Dependency checks failing at the monitor's last run")
                .register(registry);
    }

    @Scheduled(fixedDelayString = "${fluxgate.health.monitor-interval}",
            initialDelayString = "${fluxgate.health.monitor-interval}")
    Mono<Void> checkOnSchedule() {
        // The checks never fail (a broken dependency is an unhealthy result), so neither does this.
        return checks.report().doOnNext(report -> observe(report.failedChecks())).then();
    }

    /** Compares with the previous run and logs a transition, if there was one. */
    void observe(List<String> failed) {
        List<String> before = lastFailed;
        lastFailed = failed;
        failing.set(failed.size());
        if (failed.equals(before)) {
            return;
        }
        if (failed.isEmpty()) {
            log.atInfo().addKeyValue("event", "health_recovered").addKeyValue("previouslyFailed", before)
                    .log("Health recovered: all checks pass again (previously failing: {})", String.join(", ", before));
        } else {
            log.atWarn().addKeyValue("event", "health_alert").addKeyValue("failedChecks", failed)
                    .log("Health alert: failing checks: {}", String.join(", ", failed));
        }
    }
}
