package io.fluxgate.changes.transport;

import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** When a silent WebSocket client is closed, on a clock the test moves (interval 100). */
class PingClockTest {

    @Test
    void aLateFirstTickPingsInsteadOfClosing() {
        AtomicLong heard = new AtomicLong(0);
        ChangeWebSocketHandler.PingClock clock = new ChangeWebSocketHandler.PingClock(100, heard);
        // The first tick comes long after the session began (a busy machine): ping, do not close.
        assertThat(clock.timedOut(500)).isFalse();
        // A second tick soon after: the ping has not had an interval yet.
        assertThat(clock.timedOut(550)).isFalse();
        // A full interval after the unanswered ping, and silent for two: close.
        assertThat(clock.timedOut(600)).isTrue();
    }

    @Test
    void anAnswerStartsTheCountAgain() {
        AtomicLong heard = new AtomicLong(0);
        ChangeWebSocketHandler.PingClock clock = new ChangeWebSocketHandler.PingClock(100, heard);
        assertThat(clock.timedOut(100)).isFalse();
        heard.set(150); // the pong
        assertThat(clock.timedOut(200)).isFalse();
        assertThat(clock.timedOut(300)).isFalse();
        // Silent since 150: more than two intervals at 351, and the ping of 200 unanswered for one.
        assertThat(clock.timedOut(351)).isTrue();
    }

    @Test
    void aClientThatAnswersIsNeverClosed() {
        AtomicLong heard = new AtomicLong(0);
        ChangeWebSocketHandler.PingClock clock = new ChangeWebSocketHandler.PingClock(100, heard);
        for (long now = 100; now <= 2_000; now += 100) {
            assertThat(clock.timedOut(now)).as("tick at %d", now).isFalse();
            heard.set(now + 10);
        }
    }
}
