package io.fluxgate.changes;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** The hub's memory of recent events: what it can answer and when it must say "read the log". */
class ChangeHubTest {

    private final ChangeHub hub = new ChangeHub(new ChangeStreamMetrics(new SimpleMeterRegistry()),
            new ChangeStreamProperties(16, 500, 4, Duration.ofSeconds(30), Duration.ofSeconds(5),
                    Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofDays(7), 1000, Duration.ofMinutes(1), 20, 50, 200, 50));

    private static ChangeEvent event(long commitSeq, long id) {
        return new ChangeEvent(new Position(commitSeq, id), Channels.POSTS, "posts", "INSERT",
                JsonMapper.builder().build().createObjectNode(), new long[0], Instant.now(), new byte[0]);
    }

    private static List<Long> ids(List<ChangeEvent> events) {
        return events.stream().map(event -> event.position().logId()).toList();
    }

    @Test
    void answersFromWhereTheServiceStarted() {
        hub.startAt(new Position(10, 100));
        assertThat(hub.recentAfter(new Position(10, 100), 10)).isEmpty();
        hub.publish(event(11, 101));
        hub.publish(event(11, 102));
        assertThat(ids(hub.recentAfter(new Position(10, 100), 10))).containsExactly(101L, 102L);
        assertThat(ids(hub.recentAfter(new Position(11, 101), 10))).containsExactly(102L);
        assertThat(hub.recentAfter(new Position(9, 1), 10)).as("before the start: read the log").isNull();
    }

    @Test
    void forgetsTheOldestAndSaysSo() {
        hub.startAt(new Position(0, 0));
        for (long i = 1; i <= 6; i++) {
            hub.publish(event(i, i));
        }
        // Four remembered: 3, 4, 5, 6.
        assertThat(hub.recentAfter(new Position(1, 1), 10)).as("event 2 is gone").isNull();
        assertThat(ids(hub.recentAfter(new Position(3, 3), 10))).containsExactly(4L, 5L, 6L);
        assertThat(ids(hub.recentAfter(new Position(3, 3), 2))).containsExactly(4L, 5L);
        assertThat(hub.recentAfter(new Position(6, 6), 10)).isEmpty();
        assertThat(hub.head()).isEqualTo(new Position(6, 6));
    }
}
