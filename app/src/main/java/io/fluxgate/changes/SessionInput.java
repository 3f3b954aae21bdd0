package io.fluxgate.changes;

/**
 * Everything a {@link ChangeSession} reacts to, one at a time: what the client sends, the events its
 * feed and the live-only channels hand it, and what ends it (the authority check, a shutdown).
 */
sealed interface SessionInput permits ClientMessage, SessionInput.Change, SessionInput.LiveDropped,
        SessionInput.Ended {

    /** A change the session may send: logged (from its feed) or from a live-only channel. */
    record Change(ChangeEvent event) implements SessionInput {
    }

    /** A live-only channel dropped events for this slow client: it is told to resync. */
    record LiveDropped(String channel) implements SessionInput {
    }

    /** The session must end: its token expired or was revoked, or the service is shutting down. */
    record Ended(Outbound.Close close) implements SessionInput {
    }
}
