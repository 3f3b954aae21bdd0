package io.fluxgate.changes.hub;

import java.time.Instant;

import tools.jackson.databind.node.ObjectNode;

/**
 * One committed row change. Its {@code database_change} frame is serialized once, by
 * {@link ChangeFrames}, and shared by every session that sends it unchanged; {@code data} is kept for
 * row filters and column choices, and must never be modified.
 *
 * @param position where it sits in the change log; null for a live-only channel (see {@link LiveChangeSource})
 * @param data the camelCase row (new row for INSERT and UPDATE, old row for DELETE), without secrets
 * @param userIds users the change is related to (the row's own id for users, the author, the
 *        account holder, both sides of a transfer)
 * @param cursor the position as clients see it, encoded once; null when there is no position
 */
public record ChangeEvent(Position position, String channel, String table, String operation, ObjectNode data,
        long[] userIds, Instant committedAt, String cursor, byte[] frame) {

    public boolean isRelatedTo(long userId) {
        for (long id : userIds) {
            if (id == userId) {
                return true;
            }
        }
        return false;
    }

    /**
     * An estimate, on the high side, of the heap the event holds: its encoded frame, its parsed data
     * (whose text is about as long again), a node and a string or two per field, and the record
     * with its cursor and timestamps. What every byte bound on buffers of events counts; checked
     * against the measured heap in ChangeEventWeightTest. Two and a half bytes per frame byte: at
     * 9/4 a long row's estimate came within 0.1% of what it holds, inside the measurement's noise.
     */
    public long weight() {
        return frame.length * 5L / 2 + PER_FIELD * data.size() + OVERHEAD;
    }

    private static final int PER_FIELD = 160;
    /** The record, its cursor, timestamps and the empty nodes, whatever the row. */
    static final int OVERHEAD = 512;

    /** Whether it came from the change log and so can be resumed after. */
    public boolean isLogged() {
        return position != null;
    }
}
