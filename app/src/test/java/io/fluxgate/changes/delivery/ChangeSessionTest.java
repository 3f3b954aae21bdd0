package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.StreamSettings;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.test.StepVerifier;
import reactor.test.publisher.TestPublisher;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The session as a protocol, without a server: client messages in, the hub's events in, frames out.
 * The hub, feed and frame builder are the real ones, in memory; only security is stood in for.
 */
class ChangeSessionTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final ChangeStreamMetrics metrics = new ChangeStreamMetrics(new SimpleMeterRegistry());
    private final ChangeStreamProperties properties = StreamSettings.with("session-buffer", 64, "hub-history", 1024,
            "max-subscriptions-per-session", 3);
    private final ChangeHub hub = new ChangeHub(metrics, properties);
    private final ChangeFrames frames = new ChangeFrames(JSON);
    private final Map<String, Caller> tokens = new ConcurrentHashMap<>();
    private final Set<Long> revoked = ConcurrentHashMap.newKeySet();
    private final TestPublisher<ClientMessage> client = TestPublisher.create();
    /** The authority sweep of the session under test; the tests run it when they want a check. */
    private AuthoritySweep sweep;
    private long seq = 10;

    private final Authority authority = authority(
            token -> tokens.containsKey(token) ? Mono.just(tokens.get(token))
                    : Mono.error(new IllegalArgumentException("bad token")),
            caller -> Mono.just(!revoked.contains(caller.id())));

    /** Security as the session sees it, from two functions. */
    private static Authority authority(Function<String, Mono<Caller>> verify, Function<Caller, Mono<Boolean>> holds) {
        return new Authority() {
            @Override
            public Mono<Caller> verify(String token) {
                return verify.apply(token);
            }

            @Override
            public Mono<Boolean> holds(Caller caller) {
                return holds.apply(caller);
            }
        };
    }

    ChangeSessionTest() {
        hub.startAt(new Position(seq, seq));
    }

    private static Caller user(long id) {
        return new Caller(id, false, 1, Instant.now().plusSeconds(3600));
    }

    private StepVerifier.FirstStep<JsonNode> session(Caller caller) {
        return session(caller, authority::verify);
    }

    private StepVerifier.FirstStep<JsonNode> session(Caller caller, Function<String, Mono<Caller>> verify) {
        Authority checks = authority(verify, authority::holds);
        ChangeFeed feed = new ChangeFeed(hub, null, metrics, properties);
        ChangeSession.Context context = new ChangeSession.Context(feed, null, frames, metrics, List.of(), checks,
                properties.maxSubscriptionsPerSession());
        sweep = new AuthoritySweep(checks);
        ChangeSession session = new ChangeSession(caller, "test", context, null);
        return StepVerifier.create(sweep.track(session, session.run(client.flux()), () -> { })
                .map(out -> out instanceof Outbound.Frame frame ? JSON.readTree(frame.json())
                        : JSON.valueToTree(Map.of("type", "close", "code", ((Outbound.Close) out).code()))));
    }

    private void post(long id, long authorId, String title) {
        seq++;
        hub.publish(frames.logged(new Position(seq, seq), Channels.POSTS, "posts", "INSERT",
                "{\"id\":" + id + ",\"author_id\":" + authorId + ",\"title\":\"" + title + "\",\"body\":\"b\"}",
                new long[] {authorId}, Instant.now()));
    }

    private static ClientMessage message(String json) {
        return ClientMessage.parse(json, JSON);
    }

    private static String type(JsonNode frame) {
        return frame.path("type").asString();
    }

    @Test
    void aFilteredSubscriptionGetsOnlyMatchingRowsAndItsOwnEventsStillArrive() {
        session(user(1))
                .then(() -> client.next(message(
                        "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"filter\":{\"authorId\":{\"eq\":2}}}")))
                .assertNext(ack -> {
                    assertThat(type(ack)).isEqualTo("subscribed");
                    assertThat(Position.fromCursor(ack.path("cursor").asString())).isEqualTo(hub.head());
                })
                .then(() -> {
                    post(100, 3, "someone else's");
                    post(101, 2, "wanted");
                    post(102, 1, "my own");
                })
                .assertNext(frame -> assertThat(frame.path("data").path("id").asLong()).isEqualTo(101))
                .assertNext(frame -> assertThat(frame.path("data").path("id").asLong()).isEqualTo(102))
                .then(client::complete)
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void anEventMatchingTwoNamedSubscriptionsArrivesOnceNamingBothWithTheirColumns() {
        session(user(1))
                .then(() -> client.next(message("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"a\","
                        + "\"filter\":{\"authorId\":{\"eq\":2}},\"columns\":[\"title\"]}")))
                .assertNext(ack -> assertThat(ack.path("id").asString()).isEqualTo("a"))
                .then(() -> client.next(message("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"b\","
                        + "\"filter\":{\"title\":{\"like\":\"w%\"}},\"columns\":[\"authorId\"]}")))
                .assertNext(ack -> assertThat(ack.path("id").asString()).isEqualTo("b"))
                .then(() -> {
                    post(200, 2, "wanted by both");
                    post(201, 2, "only a");
                })
                .assertNext(frame -> {
                    assertThat(frame.path("subscriptions").valueStream().map(JsonNode::asString))
                            .containsExactlyInAnyOrder("a", "b");
                    assertThat(frame.path("data").propertyNames()).containsExactlyInAnyOrder("id", "title", "authorId");
                })
                .assertNext(frame -> {
                    assertThat(frame.path("subscriptions").valueStream().map(JsonNode::asString)).containsExactly("a");
                    assertThat(frame.path("data").propertyNames()).containsExactlyInAnyOrder("id", "title");
                })
                .then(() -> client.next(message("{\"type\":\"unsubscribe\",\"id\":\"a\"}")))
                .assertNext(frame -> assertThat(frame.path("ids").get(0).asString()).isEqualTo("a"))
                .then(() -> {
                    post(202, 2, "not for b");
                    post(203, 9, "was for b");
                })
                .assertNext(frame -> assertThat(frame.path("data").path("id").asLong()).isEqualTo(203))
                .then(client::complete)
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void badSubscriptionsAnswerAnErrorAndSubscribeNothing() {
        session(user(1))
                .then(() -> client.next(message(
                        "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"filter\":{\"secret\":{\"eq\":1}}}")))
                .assertNext(error -> {
                    assertThat(error.path("error").asString()).isEqualTo("Invalid filter");
                    assertThat(error.path("detail").asString()).contains("Unknown field 'secret'");
                })
                .then(() -> client.next(message(
                        "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"columns\":[\"password\"]}")))
                .assertNext(error -> assertThat(error.path("error").asString()).isEqualTo("Invalid columns"))
                .then(() -> client.next(message(
                        "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"snapshot\":true,\"resumeFrom\":\"x\"}")))
                .assertNext(error -> assertThat(error.path("error").asString()).isEqualTo("Invalid subscription"))
                .then(() -> post(300, 7, "nobody asked"))
                .then(() -> client.next(message("{\"type\":\"ping\"}")))
                .assertNext(pong -> assertThat(type(pong)).isEqualTo("pong"))
                .then(client::complete)
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void aSessionHoldsAtMostItsSubscriptions() {
        session(user(1))
                .then(() -> {
                    for (String id : List.of("a", "b", "c", "d")) {
                        client.next(message("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"" + id + "\"}"));
                    }
                })
                .expectNextCount(3)
                .assertNext(error -> assertThat(error.path("error").asString()).isEqualTo("Too many subscriptions"))
                .then(() -> client.next(message("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"a\"}")))
                .assertNext(ack -> assertThat(type(ack)).as("replacing one is not one more").isEqualTo("subscribed"))
                .then(client::complete)
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void aFreshTokenOfTheSameUserIsTakenAnotherUsersIsRefused() {
        tokens.put("mine", new Caller(1, false, 1, Instant.parse("2030-01-01T00:00:00Z")));
        tokens.put("theirs", user(2));
        session(user(1))
                .then(() -> client.next(new ClientMessage.Auth("theirs")))
                .assertNext(error -> assertThat(error.path("detail").asString()).contains("another user"))
                .then(() -> client.next(new ClientMessage.Auth("forged")))
                .assertNext(error -> assertThat(error.path("error").asString()).isEqualTo("Invalid token"))
                .then(() -> client.next(new ClientMessage.Auth("mine")))
                .assertNext(ok -> {
                    assertThat(type(ok)).isEqualTo("auth_ok");
                    assertThat(ok.path("expiresAt").asString()).isEqualTo("2030-01-01T00:00:00Z");
                })
                .then(client::complete)
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void anExpiredTokenEndsTheSessionWith4001AndARevokedOneWith4003() {
        session(new Caller(1, false, 1, Instant.now().minusMillis(1)))
                .then(() -> sweep.sweep().block(WAIT))
                .assertNext(close -> assertThat(close.path("code").asInt()).isEqualTo(4001))
                .expectComplete()
                .verify(WAIT);
        revoked.add(3L);
        session(user(3))
                .then(() -> sweep.sweep().block(WAIT))
                .assertNext(close -> assertThat(close.path("code").asInt()).isEqualTo(4003))
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void aSweepLeavesGoodTokensAloneAndChecksASharedTokenOnce() {
        java.util.concurrent.atomic.AtomicInteger checks = new java.util.concurrent.atomic.AtomicInteger();
        Caller shared = user(5);
        AuthoritySweep counting = new AuthoritySweep(authority(token -> Mono.error(new IllegalArgumentException()),
                caller -> {
                    checks.incrementAndGet();
                    return Mono.just(true);
                }));
        ChangeFeed feed = new ChangeFeed(hub, null, metrics, properties);
        ChangeSession.Context context = new ChangeSession.Context(feed, null, frames, metrics, List.of(), authority, 3);
        List<reactor.core.Disposable> running = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ChangeSession session = new ChangeSession(shared, "test", context, null);
            running.add(counting.track(session, session.run(reactor.core.publisher.Flux.never()), () -> { }).subscribe());
        }
        counting.sweep().block(WAIT);
        assertThat(checks).hasValue(1);
        running.forEach(reactor.core.Disposable::dispose);
    }

    @Test
    void aRevocationEndsTheSessionEvenWhileItsStepIsBusy() {
        // A token check that never answers holds the session's serial step; the revocation must not wait for it.
        Map<String, Mono<Caller>> slow = Map.of("slow", Mono.never());
        tokens.clear();
        session(user(4), token -> slow.getOrDefault(token, Mono.error(new IllegalArgumentException())))
                .then(() -> client.next(new ClientMessage.Auth("slow")))
                .then(() -> revoked.add(4L))
                .then(() -> sweep.sweep().block(WAIT))
                .assertNext(close -> assertThat(close.path("code").asInt()).isEqualTo(4003))
                .expectComplete()
                .verify(WAIT);
    }

    @Test
    void aReplacedTokenOutlivesTheOneItReplaced() {
        tokens.put("fresh", user(1));
        Instant expiry = Instant.now().plusMillis(300);
        session(new Caller(1, false, 1, expiry))
                .then(() -> client.next(new ClientMessage.Auth("fresh")))
                .assertNext(ok -> assertThat(type(ok)).isEqualTo("auth_ok"))
                // Past the first token's expiry, a sweep leaves the session open and answering.
                .then(() -> {
                    org.awaitility.Awaitility.await().atMost(WAIT).until(() -> Instant.now().isAfter(expiry));
                    sweep.sweep().block(WAIT);
                })
                .then(() -> client.next(message("{\"type\":\"ping\"}")))
                .assertNext(pong -> assertThat(type(pong)).isEqualTo("pong"))
                .then(client::complete)
                .expectComplete()
                .verify(WAIT);
    }
}
