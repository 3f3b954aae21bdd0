package io.fluxgate.changes.transport;

import java.time.Duration;

import io.fluxgate.changes.StreamSettings;
import io.fluxgate.changes.hub.ChangeFrames;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** The fan-out warm-up really runs the delivery path: each private session gets exactly what it matches. */
class FanOutWarmupTest {

    @Test
    void everyPrivateSessionGetsWhatItsSubscriptionMatches() {
        FanOutWarmup warmup = new FanOutWarmup(new ChangeFrames(JsonMapper.builder().build()), StreamSettings.defaults(),
                Duration.ofSeconds(30));
        int sessions = 9;
        int changes = 100;
        FanOutWarmup.Result result = warmup.exercise(sessions, changes, System.nanoTime() + Duration.ofMinutes(5).toNanos());
        assertThat(result.changes()).isEqualTo(changes);
        // Each session's `subscribed`; then every change to the unfiltered and the title sessions, and
        // to those filtered on one of the two authors, the half that author wrote.
        long perThird = sessions / 3;
        assertThat(result.frames()).isEqualTo(sessions + perThird * changes + perThird * changes / 2 + perThird * changes);
    }
}
