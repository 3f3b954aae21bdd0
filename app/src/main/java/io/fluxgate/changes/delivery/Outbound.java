package io.fluxgate.changes.delivery;

import java.time.Instant;

/** What a session hands its transport: frames to send, or the instruction to close. */
public sealed interface Outbound {

    /**
     * One JSON frame. {@code type} names it (the SSE event name); {@code cursor} is set where a client
     * may resume after it (the SSE id); {@code committedAt} is set on change frames, for the lag metric.
     */
    record Frame(String type, byte[] json, String cursor, Instant committedAt) implements Outbound {
    }

    /** End the session with this code (WebSocket close codes; SSE sends the reason and ends). */
    record Close(int code, String reason) implements Outbound {
    }
}
