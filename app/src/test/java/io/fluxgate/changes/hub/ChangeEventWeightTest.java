package io.fluxgate.changes.hub;

import java.lang.management.ManagementFactory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ChangeEvent#weight()} is what every byte bound on buffers of events counts, so it must not
 * fall short of the heap an event really holds: measured here, as the live heap a few thousand
 * events of each shape keep, after a full collection.
 */
class ChangeEventWeightTest {

    private final ChangeFrames frames = new ChangeFrames(JsonMapper.builder().build());

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            "a user row, 4000, 0",
            "a post of 200 characters, 4000, 200",
            "a post of 6000 characters, 2000, 6000",
            "a post of 20000 characters, 1000, 20000"})
    void theWeightIsNeverBelowTheHeapAnEventHolds(String shape, int count, int bodyLength) {
        long before = liveHeap();
        List<ChangeEvent> held = new ArrayList<>(count);
        long weights = 0;
        for (int i = 0; i < count; i++) {
            ChangeEvent event = event(i, bodyLength);
            held.add(event);
            weights += event.weight();
        }
        long used = liveHeap() - before;
        long perEvent = used / count;
        long weightPerEvent = weights / count;
        System.out.printf("[weight] %s: %d bytes held per event, weighed %d%n", shape, perEvent, weightPerEvent);
        assertThat(held).hasSize(count);
        assertThat(weightPerEvent).as("weighed at least what it holds").isGreaterThanOrEqualTo(perEvent);
        assertThat(weightPerEvent).as("and not wildly more").isLessThan(3 * perEvent);
    }

    private ChangeEvent event(int i, int bodyLength) {
        String row = bodyLength == 0
                ? "{\"id\":" + i + ",\"name\":\"User " + i + "\",\"email\":\"user" + i + "@example.com\",\"status\":\"active\","
                        + "\"roles\":[\"USER\"],\"avatar\":null,\"bio\":null,\"last_active\":\"2026-12-07T10:00:00.123456+00:00\","
                        + "\"created_at\":\"2026-12-07T10:00:00.123456+00:00\",\"updated_at\":\"2026-12-07T10:00:00.123456+00:00\"}"
                : "{\"id\":" + i + ",\"author_id\":7,\"title\":\"Post number " + i + "\",\"body\":\"" + "x".repeat(bodyLength - 1)
                        + (char) ('a' + i % 26) + "\",\"created_at\":\"2026-12-07T10:00:00.123456+00:00\","
                        + "\"updated_at\":\"2026-12-07T10:00:00.123456+00:00\"}";
        return frames.logged(new Position(1000 + i, i), bodyLength == 0 ? Channels.USERS : Channels.POSTS,
                bodyLength == 0 ? "users" : "posts", "INSERT", row, new long[] {7, i}, Instant.now());
    }

    private static long liveHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
