package io.fluxgate.changes.delivery;

import io.fluxgate.changes.hub.ChangeEvent;

/**
 * Everything a {@link ChangeSession} handles, one at a time: what the client sends, and the events its
 * feed and the live-only channels hand it. (What ends a session does not wait its turn.)
 */
public sealed interface SessionInput permits ClientMessage, SessionInput.Change, SessionInput.LiveDropped {

    /** A change the session may send: logged (from its feed) or from a live-only channel. */
    record Change(ChangeEvent event) implements SessionInput {
    }

    /** A live-only channel dropped events for this slow client: it is told to resync. */
    record LiveDropped(String channel) implements SessionInput {
    }
}
