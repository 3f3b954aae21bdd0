package io.fluxgate.changes.capture.wal;

import reactor.core.publisher.Mono;

import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * The capture slot as the server sees it: whether a leader holds it and how much WAL it keeps.
 * A slot nobody reads keeps WAL for ever, so its lag is a metric (refreshed every status interval
 * on every replica) and a check of {@code /health/database} (logical mode only).
 */
@Component
public class CaptureStatus {

    /**
     * @param lagBytes WAL written since the slot's confirmed position
     * @param lagSeconds the server's measure of the leader's flush lag (0 when caught up or idle)
     */
    public record Slot(String name, boolean exists, boolean active, String walStatus, long lagBytes, double lagSeconds,
            long maxLagBytes) {

        public boolean healthy() {
            return exists && active && !"lost".equals(walStatus) && lagBytes < maxLagBytes;
        }
    }

    private static final String READ = """
            SELECT s.active, s.wal_status,
                   coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::bigint AS lag_bytes,
                   coalesce(extract(epoch FROM r.flush_lag), 0)::float8 AS lag_seconds
              FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
             WHERE s.slot_name = $1
            """;

    private final DatabaseClient db;
    private final CaptureProperties properties;
    private final CaptureMetrics metrics;
    private final WalCapture capture;

    CaptureStatus(DatabaseClient db, CaptureProperties properties, CaptureMetrics metrics, WalCapture capture) {
        this.db = db;
        this.properties = properties;
        this.metrics = metrics;
        this.capture = capture;
    }

    /** The slot now; empty in trigger mode. */
    public Mono<Slot> slot() {
        if (!properties.logical()) {
            return Mono.empty();
        }
        long maxLag = properties.maxLag().toBytes();
        return db.sql(READ).bind(0, capture.slot())
                .map(row -> new Slot(capture.slot(), true, Boolean.TRUE.equals(row.get("active", Boolean.class)),
                        row.get("wal_status", String.class), row.get("lag_bytes", Long.class),
                        row.get("lag_seconds", Double.class), maxLag))
                .one()
                .defaultIfEmpty(new Slot(capture.slot(), false, false, null, -1, 0, maxLag));
    }

    @Scheduled(fixedDelayString = "${fluxgate.changes.capture.status-interval}")
    Mono<Void> refresh() {
        return slot().doOnNext(slot -> {
            metrics.lagBytes.set(slot.lagBytes());
            metrics.lagMillis.set(Math.round(slot.lagSeconds() * 1000));
        }).onErrorResume(e -> Mono.empty()).then();
    }
}
