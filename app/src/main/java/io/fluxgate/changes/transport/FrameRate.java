package io.fluxgate.changes.transport;

/**
 * A token bucket for one session's client frames: {@code burst} at once, then {@code perSecond} on
 * average. Used from the session's inbound stream only, one frame at a time, so it needs no locking.
 */
public final class FrameRate {

    private final double perNano;
    private final double burst;
    private double tokens;
    private long last;

    FrameRate(int perSecond, int burst) {
        this.perNano = perSecond / 1e9;
        this.burst = Math.max(1, burst);
        this.tokens = this.burst;
        this.last = System.nanoTime();
    }

    /** Takes one frame's token; false when the client is over its rate. */
    boolean tryTake() {
        long now = System.nanoTime();
        tokens = Math.min(burst, tokens + (now - last) * perNano);
        last = now;
        if (tokens < 1) {
            return false;
        }
        tokens -= 1;
        return true;
    }
}
