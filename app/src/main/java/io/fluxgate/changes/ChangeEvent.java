package io.fluxgate.changes;

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
     * An estimate, on the high side, of the heap the event holds: its encoded frame, and its parsed
     * data, whose text is about as long again, with the nodes and strings around it (measured in
     * ChangeHubTest). What byte bounds on buffers of events count.
     */
    public long weight() {
        return 3L * frame.length + OVERHEAD;
    }

    /** The record, its cursor, timestamps and the empty nodes, whatever the row. */
    static final int OVERHEAD = 1024;

    /** Whether it came from the change log and so can be resumed after. */
    public boolean isLogged() {
        return position != null;
    }
}
