package io.fluxgate.changes.delivery;

/**
 * A transport that can take a session's frame at once, on the connection's event loop, with no
 * queue between (the WebSocket's {@link SocketWriter}): how a live change skips the session's
 * serial step when nothing waits before it.
 */
public interface DirectWriter {

    /**
     * Whether a frame written now leaves in order and at once: called on the connection's event
     * loop, nothing handed over earlier is still waiting, the socket has room, the session is open.
     */
    boolean ready();

    /** Writes {@code frame} now; only right after {@link #ready()} said so, on the same loop turn. */
    void write(Outbound.Frame frame);
}
