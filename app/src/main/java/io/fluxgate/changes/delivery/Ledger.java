package io.fluxgate.changes.delivery;

import java.util.HashMap;
import java.util.Map;

import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;

/**
 * What one session has accounted for: the one answer to "already sent?" on every path (live
 * delivery, a resume, a snapshot, catching up, several subscriptions on one channel).
 *
 * <p>A session sends several streams: one per subscription, and, per channel, the events related to
 * its user that no subscription took. Each stream has a {@link Range} of positions it has
 * accounted for: every event in it that the stream takes has been sent (or, after a snapshot,
 * reflected in the snapshot's rows). Commit order is total, so the range is all there is to know.
 */
public final class Ledger {

    /**
     * One stream's account, {@code (from, through]}. It opens empty at the stream's start. Live
     * events come in commit order, so the live pass owes the stream only what lies past it and moves
     * its end; a replay (a resume) owes what lies outside it and widens it to what it read.
     *
     * <p>Written in the session's serial step; read, racily, by the inspector.
     */
    public static final class Range {

        private volatile Position from;
        private volatile Position through;

        Range(Position start) {
            from = start;
            through = start;
        }

        public Position from() {
            return from;
        }

        public Position through() {
            return through;
        }

        /** Whether {@code position} lies in the range: sent already, or accounted for otherwise. */
        public boolean holds(Position position) {
            return position.isAfter(from) && !position.isAfter(through);
        }

        /** Whether {@code position} lies at or before the stream's start: never its to send live. */
        public boolean precedes(Position position) {
            return !position.isAfter(from);
        }

        /** Whether {@code pass} still owes the stream the event at {@code position}. */
        public boolean owes(Position position, Pass pass) {
            return pass == Pass.LIVE ? position.isAfter(through) : !holds(position);
        }

        /** The live pass has handled everything up to {@code position}. */
        void advance(Position position) {
            if (position.isAfter(through)) {
                through = position;
            }
        }

        /**
         * A replay read everything after {@code after} up to {@code upTo}. The range becomes the hull
         * of both: a gap after the range lies before a cursor the client sent, so it is the client's.
         * What lies wholly before the range changes nothing yet: a range is one piece, and a replay on
         * its way up to the range joins it when it gets there.
         */
        void cover(Position after, Position upTo) {
            if (upTo.compareTo(from) < 0) {
                return;
            }
            if (from.isAfter(after)) {
                from = after;
            }
            advance(upTo);
        }
    }

    /** How an event reached the session: in commit order as it happens, or read again for a resume. */
    public enum Pass {
        LIVE, REPLAY
    }

    private final Position start;
    private final Map<String, Range> subscriptions = new HashMap<>(4);
    /** The related streams of the logged channels: fields rather than a map, since every idle session holds them. */
    private final Range relatedUsers;
    private final Range relatedPosts;
    private final Range relatedAccounts;

    /** @param start where the session's live stream starts: the related streams start there */
    public Ledger(Position start) {
        this.start = start;
        this.relatedUsers = new Range(start);
        this.relatedPosts = new Range(start);
        this.relatedAccounts = new Range(start);
    }

    public Position start() {
        return start;
    }

    /** A new stream for subscription {@code id} (replacing any it had), accounting for nothing before {@code at}. */
    Range open(String id, Position at) {
        Range range = new Range(at);
        subscriptions.put(id, range);
        return range;
    }

    void close(String id) {
        subscriptions.remove(id);
    }

    /** The stream of subscription {@code id}; null when it has none (a live-only channel, or gone). */
    public Range of(String id) {
        return subscriptions.get(id);
    }

    /** The stream of events related to the session's user on {@code channel}; null off the change log. */
    public Range related(String channel) {
        return switch (channel) {
            case Channels.USERS -> relatedUsers;
            case Channels.POSTS -> relatedPosts;
            case Channels.ACCOUNTS -> relatedAccounts;
            default -> null;
        };
    }
}
