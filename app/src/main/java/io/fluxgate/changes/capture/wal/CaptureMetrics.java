package io.fluxgate.changes.capture.wal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.springframework.stereotype.Component;

/** Capture from the WAL, under {@code fluxgate.changes.capture.*} in Micrometer. */
@Component
public class CaptureMetrics {

    /** 1 while this replica is the capture leader. */
    final AtomicInteger leading = new AtomicInteger();
    /** WAL the server keeps for the slot (written, not yet confirmed), in bytes; -1 without a slot. */
    final AtomicLong lagBytes = new AtomicLong(-1);
    /** The slot's flush lag as the server measures it, in milliseconds. */
    final AtomicLong lagMillis = new AtomicLong();
    final Counter transactions;
    final Counter gaps;

    public CaptureMetrics(MeterRegistry registry) {
        Gauge.builder("fluxgate.changes.capture.leader", leading, AtomicInteger::get)
                .description("1 while this replica decodes the slot (the capture leader)").register(registry);
        Gauge.builder("fluxgate.changes.capture.lag.bytes", lagBytes, AtomicLong::get)
                .description("WAL kept for the capture slot and not yet confirmed (logical mode)")
                .baseUnit("bytes").register(registry);
        Gauge.builder("fluxgate.changes.capture.lag.seconds", lagMillis, millis -> millis.get() / 1000.0)
                .description("The capture slot's flush lag as the server measures it (logical mode)")
                .baseUnit("seconds").register(registry);
        transactions = Counter.builder("fluxgate.changes.capture.transactions")
                .description("Decoded transactions appended to the change log by this replica").register(registry);
        gaps = Counter.builder("fluxgate.changes.capture.gaps")
                .description("Times the capture slot was found dropped or invalidated and recreated").register(registry);
    }
}
