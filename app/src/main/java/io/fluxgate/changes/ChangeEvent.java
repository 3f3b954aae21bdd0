package io.fluxgate.changes;

import java.time.Instant;

/**
 * One committed row change, already serialized to its {@code database_change} frame: the JSON is
 * built once here and shared by every session that sends it.
 *
 * @param userIds users the change is related to (the row's own id for users, the author, the
 *        account holder, both sides of a transfer)
 */
public record ChangeEvent(Position position, String channel, String table, long[] userIds, Instant committedAt,
        byte[] frame) {

    public boolean isRelatedTo(long userId) {
        for (long id : userIds) {
            if (id == userId) {
                return true;
            }
        }
        return false;
    }
}
