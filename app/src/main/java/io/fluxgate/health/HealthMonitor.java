package io.fluxgate.health;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;

/**
 * Runs the dependency checks every {@code fluxgate.health.monitor-interval} and logs only changes: a
 * structured alert naming the failed checks when health turns bad (or the set of failures changes),
 * a recovery line when it turns good. A steady state, healthy or not, logs nothing.
 */
@Component
class HealthMonitor implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(HealthMonitor.class);

    private final DependencyChecks checks;
    private final HealthProperties properties;
    private final AtomicInteger failing = new AtomicInteger();
    private volatile List<String> lastFailed = List.of();
    private volatile Disposable running;

    HealthMonitor(DependencyChecks checks, HealthProperties properties, MeterRegistry registry) {
        this.checks = checks;
        this.properties = properties;
        Gauge.builder("fluxgate.health.failing.checks", failing, AtomicInteger::get)
                .description("Dependency checks failing at the monitor's last run")
                .register(registry);
    }

    @Override
    public void start() {
        running = Flux.interval(properties.monitorInterval(), properties.monitorInterval())
                .onBackpressureDrop()
                .concatMap(tick -> checks.report(), 1)
                .subscribe(report -> observe(report.failedChecks()),
                        error -> log.error("Health monitor stopped", error));
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

    @Override
    public void stop() {
        Disposable current = running;
        if (current != null) {
            current.dispose();
        }
    }

    @Override
    public boolean isRunning() {
        Disposable current = running;
        return current != null && !current.isDisposed();
    }
}
