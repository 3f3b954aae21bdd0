package io.fluxgate.changes.hub;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.StreamSettings;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/** The hub's memory of recent events: what it can answer and when it must say "read the log". */
class ChangeHubTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ChangeHub hub = new ChangeHub(new ChangeStreamMetrics(registry),
            StreamSettings.with("session-buffer", 16, "hub-history", 4));

    private static ChangeEvent event(long commitSeq, long id) {
        return new ChangeEvent(new Position(commitSeq, id), Channels.POSTS, "posts", "INSERT",
                JsonMapper.builder().build().createObjectNode(), new long[0], Instant.now(), null, new byte[0]);
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
    void countsEachPublishedChangeWithHowLongAfterItsCommitItCameIn() {
        hub.startAt(new Position(0, 0));
        ChangeEvent committedEarlier = new ChangeEvent(new Position(1, 1), Channels.POSTS, "posts", "INSERT",
                JsonMapper.builder().build().createObjectNode(), new long[0], Instant.now().minusSeconds(2), null,
                new byte[0]);
        hub.publish(committedEarlier);
        assertThat(registry.get("fluxgate.changes.events.in").counter().count()).isEqualTo(1);
        Timer captureLag = registry.get("fluxgate.changes.capture.lag").timer();
        assertThat(captureLag.count()).isEqualTo(1);
        assertThat(captureLag.totalTime(TimeUnit.MILLISECONDS)).isBetween(2_000.0, 60_000.0);
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

    private static ChangeEvent post(long seq, long authorId) {
        ChangeFrames frames = new ChangeFrames(JsonMapper.builder().build());
        return frames.logged(new Position(seq, seq), Channels.POSTS, "posts", "INSERT",
                "{\"id\":" + seq + ",\"author_id\":" + authorId + "}", new long[] {authorId}, Instant.now());
    }

    private static Route byAuthor(long authorId) {
        return new Route(Route.NONE, Set.of(), Map.of(Channels.POSTS, List.of(new Route.Equality("authorId",
                Set.of(Values.key(JsonMapper.builder().build().readTree(Long.toString(authorId))))))));
    }

    @Test
    void aThousandEqualityRoutesCostOneLookupAndReachOnlyTheirMatch() {
        hub.startAt(Position.ORIGIN);
        AtomicInteger[] calls = new AtomicInteger[1000];
        for (int i = 0; i < calls.length; i++) {
            AtomicInteger count = calls[i] = new AtomicInteger();
            hub.subscribe(Runnable::run, byAuthor(i), event -> count.incrementAndGet());
        }
        AtomicInteger whole = new AtomicInteger();
        hub.subscribe(Runnable::run, new Route(Route.NONE, Set.of(Channels.POSTS), Map.of()), event -> whole.incrementAndGet());
        AtomicInteger related = new AtomicInteger();
        hub.subscribe(Runnable::run, new Route(42, Set.of(), Map.of()), event -> related.incrementAndGet());

        hub.publish(post(1, 42));
        assertThat(calls[42]).hasValue(1);
        assertThat(java.util.Arrays.stream(calls).mapToInt(AtomicInteger::get).sum()).isEqualTo(1);
        assertThat(whole).hasValue(1);
        assertThat(related).hasValue(1);
    }

    @Test
    void aRerouteTakesEffectAtOnceAndADisposedSubscriptionStaysGone() {
        hub.startAt(Position.ORIGIN);
        AtomicInteger calls = new AtomicInteger();
        ChangeHub.Subscription subscription = hub.subscribe(Runnable::run, byAuthor(1), event -> calls.incrementAndGet());
        // Wanted by both routes: handed over once.
        AtomicInteger both = new AtomicInteger();
        hub.subscribe(Runnable::run, new Route(1, Set.of(Channels.POSTS), Map.of()), event -> both.incrementAndGet());
        hub.publish(post(1, 1));
        subscription.reroute(byAuthor(2));
        hub.publish(post(2, 1));
        hub.publish(post(3, 2));
        assertThat(calls).hasValue(2);
        assertThat(both).hasValue(3);
        subscription.dispose();
        subscription.reroute(byAuthor(2));
        hub.publish(post(4, 2));
        assertThat(calls).as("rerouting a disposed subscription does not revive it").hasValue(2);
    }
}
