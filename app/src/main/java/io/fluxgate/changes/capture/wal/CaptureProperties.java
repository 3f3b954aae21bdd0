package io.fluxgate.changes.capture.wal;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;

/**
 * How committed changes reach the change log ({@code fluxgate.changes.capture.*}).
 *
 * @param mode {@code triggers}: each write runs the capture trigger in its own transaction (no
 *        server settings needed); {@code logical}: writers do no capture work, the capture leader
 *        decodes the write-ahead log (needs {@code wal_level=logical} and the replication privilege)
 * @param slot the replication slot's name; empty: {@code fluxgate_} and the database's name
 * @param publication the publication of the captured tables
 * @param statusInterval how often the leader reports its position to the server and, when idle, marks the
 *        stream so an idle database lets its WAL go
 * @param batchRows decoded rows appended per statement (a larger transaction takes several, in one
 *        transaction of the leader's)
 * @param batchBytes the same bound in bytes (always at least one row)
 * @param batchDelay how long the leader may hold a decoded transaction that arrived alone while more
 *        may follow, so a trickle of small transactions shares one commit (one WAL flush) of the
 *        leader's instead of adding one flush per transaction to the writers' own; zero: none
 * @param maxLag the slot's lag in bytes past which {@code /health/database} reports capture unhealthy
 */
@ConfigurationProperties("fluxgate.changes.capture")
public record CaptureProperties(
        Mode mode,
        String slot,
        String publication,
        Duration statusInterval,
        int batchRows,
        DataSize batchBytes,
        Duration batchDelay,
        DataSize maxLag) {

    public enum Mode {
        TRIGGERS, LOGICAL
    }

    public boolean logical() {
        return mode == Mode.LOGICAL;
    }

    /** The slot's name: configured, or derived from the database's name (slots are per server). */
    public String slotFor(String database) {
        if (slot != null && !slot.isBlank()) {
            return slot;
        }
        String name = "fluxgate_" + database.toLowerCase().replaceAll("[^a-z0-9_]", "_");
        return name.length() > 63 ? name.substring(0, 63) : name;
    }
}
