package io.fluxgate.changes.hub;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Where an event sits in the change log: the commit sequence of its transaction, then its row id
 * within that transaction. Total order = commit order. Clients see it only as an opaque cursor.
 */
public record Position(long commitSeq, long logId) implements Comparable<Position> {

    public static final Position ORIGIN = new Position(0, 0);
    private static final String PREFIX = "c1:";

    @Override
    public int compareTo(Position other) {
        int bySeq = Long.compare(commitSeq, other.commitSeq);
        return bySeq != 0 ? bySeq : Long.compare(logId, other.logId);
    }

    public boolean isAfter(Position other) {
        return compareTo(other) > 0;
    }

    public static Position max(Position a, Position b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    public String toCursor() {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((PREFIX + commitSeq + ":" + logId).getBytes(StandardCharsets.US_ASCII));
    }

    /** The position in a client's cursor, or null when it is not one of ours. */
    public static Position fromCursor(String cursor) {
        try {
            String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            if (!text.startsWith(PREFIX)) {
                return null;
            }
            String[] parts = text.substring(PREFIX.length()).split(":");
            if (parts.length != 2) {
                return null;
            }
            Position position = new Position(Long.parseLong(parts[0]), Long.parseLong(parts[1]));
            return position.commitSeq() < 0 || position.logId() < 0 ? null : position;
        } catch (IllegalArgumentException malformed) {
            return null;
        }
    }
}
