package io.fluxgate.changes.delivery;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import io.fluxgate.changes.ChangeStreamMetrics;
import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.StreamSettings;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The change stream's central promise, checked against a reference model: each subscription receives
 * every event that its caller may see and its filter matches, committed after its start point, once,
 * in commit order; the events related to the user that no subscription took arrive whole, once per
 * session. The session, feed, hub and frames are the real ones, in memory; the log is in memory too,
 * and each of its reads (resumes, catch-ups, snapshots) waits until the driver releases it.
 *
 * <p>Each case is a random interleaving, from its seed, of commits, the listener publishing, subscribe
 * (plain, with a snapshot, resuming from a cursor), unsubscribe, reads released out of order, a
 * client reading slowly (its buffer overflows into a catch-up from the ring or the log), token
 * refreshes good and bad, and reconnects that resume each subscription from its last cursor. A
 * failure names its seed; {@code -Dfluxgate.model.seed=N} runs that case alone.
 */
class DeliveryModelTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final int CASES = Integer.getInteger("fluxgate.model.cases", 2000);
    private static final Long ONE_SEED = Long.getLong("fluxgate.model.seed");
    private static final int STEPS = 80;
    private static final long USER = 1;
    private static final List<String> IDS = List.of("a", "b", "c");
    private static final List<String> CHANNELS = List.of(Channels.POSTS, Channels.ACCOUNTS, Channels.USERS);

    @Test
    void everySubscriptionGetsExactlyItsEventsInCommitOrder() {
        if (ONE_SEED != null) {
            new Case(ONE_SEED, false).run();
            return;
        }
        for (long seed = 1; seed <= CASES; seed++) {
            new Case(seed, false).run();
        }
    }

    /**
     * As the event stream (SSE) uses a session: its subscriptions made at the start, and after a
     * reconnect one resume for all of them from the last event id, so ids only ever move forward.
     */
    @Test
    void theEventStreamResumesFromItsLastIdWithNoGapAndNoRepeat() {
        if (ONE_SEED != null) {
            new Case(ONE_SEED, true).run();
            return;
        }
        for (long seed = 1; seed <= CASES / 2; seed++) {
            new Case(seed, true).run();
        }
    }

    /** What one subscription asked for; the model's own reading of it. */
    private record Spec(String id, String channel, String filter, List<String> columns) {

        boolean wants(ChangeEvent event, boolean admin) {
            if (!event.channel().equals(channel) || !Channels.seesAll(channel, admin)) {
                return false;
            }
            return filter == null || RowFilter.compile(JSON.readTree(filter), Channels.fields(channel)).test(event.data());
        }

        String subscribe(String extra) {
            StringBuilder message = new StringBuilder("{\"type\":\"subscribe\",\"channel\":\"" + channel + "\",\"id\":\""
                    + id + "\"");
            if (filter != null) {
                message.append(",\"filter\":").append(filter);
            }
            if (columns != null) {
                message.append(",\"columns\":").append(JSON.writeValueAsString(columns));
            }
            return message.append(extra).append('}').toString();
        }
    }

    /**
     * One subscription's life, across reconnects that resume it: where it starts, and what it got.
     * {@code start} is null while a snapshot is being read.
     */
    private static final class Chain {

        final Spec spec;
        Position start;
        /** A snapshot's: the subscription's first cursor and the snapshot's; what it accounts for lies between. */
        Position snapshotFrom;
        Position snapshotThrough;
        /** The connection its snapshot was taken on. */
        Object snapshotOn;
        boolean snapshotPending;
        boolean ended;
        final List<Position> received = new ArrayList<>();

        Chain(Spec spec) {
            this.spec = spec;
        }

        Position last() {
            return received.isEmpty() ? start : received.get(received.size() - 1);
        }
    }

    private static final class Case {

        final long seed;
        final Random random;
        final boolean admin;
        final List<String> trace = new ArrayList<>();
        final ChangeStreamProperties settings = StreamSettings.with("session-buffer", 2, "hub-history", 6,
                "replay-batch", 3);
        final ChangeStreamMetrics metrics = new ChangeStreamMetrics(new SimpleMeterRegistry());
        final ChangeHub hub = new ChangeHub(metrics, settings);
        final MemoryChangeLog log = new MemoryChangeLog(true);
        final ChangeFrames frames = new ChangeFrames(JSON);
        final ChangeFeed feed = new ChangeFeed(hub, log, metrics, settings);
        final Map<String, Chain> chains = new HashMap<>();
        final List<Chain> all = new ArrayList<>();
        long seq;
        int published;
        Client client;

        /** Whether the client uses the session as the event stream does (see its test). */
        final boolean eventStream;
        /** The last event id the client received: where an event stream resumes. */
        Position lastId;

        Case(long seed, boolean eventStream) {
            this.seed = seed;
            this.random = new Random(seed);
            this.admin = random.nextInt(4) == 0;
            this.eventStream = eventStream;
            hub.startAt(Position.ORIGIN);
            if (eventStream) {
                for (String id : IDS.subList(0, 1 + random.nextInt(IDS.size()))) {
                    String channel = CHANNELS.get(random.nextInt(CHANNELS.size()));
                    Chain chain = new Chain(new Spec(id, channel, filter(channel), columns(channel)));
                    chains.put(id, chain);
                    all.add(chain);
                }
            }
        }

        void run() {
            try {
                connect();
                for (int step = 0; step < STEPS; step++) {
                    step();
                }
                drain();
                check();
            } catch (AssertionError | RuntimeException failure) {
                throw new AssertionError("Model case failed; replay it with -Dfluxgate.model.seed=" + seed
                        + " (admin=" + admin + ")\n  " + String.join("\n  ", trace), failure);
            }
        }

        void step() {
            int roll = random.nextInt(100);
            if (roll < 22) {
                commit(1 + random.nextInt(3));
            } else if (roll < 42) {
                publish(1 + random.nextInt(3));
            } else if (roll < 55) {
                if (!eventStream) {
                    subscribe();
                }
            } else if (roll < 60) {
                if (!eventStream) {
                    unsubscribe();
                }
            } else if (roll < 75) {
                release();
            } else if (roll < 88) {
                int frames = 1 + random.nextInt(8);
                trace.add("read " + frames);
                client.request(frames);
            } else if (roll < 93) {
                boolean good = random.nextBoolean();
                trace.add("auth " + (good ? "fresh" : "bad") + " token");
                client.send("{\"type\":\"auth\",\"token\":\"" + (good ? "fresh" : "bad") + "\"}");
            } else {
                reconnect();
            }
        }

        // ---- the world

        void commit(int count) {
            for (int i = 0; i < count; i++) {
                seq++;
                Position position = new Position(seq, seq);
                String channel = CHANNELS.get(random.nextInt(CHANNELS.size()));
                long user = 1 + random.nextInt(3);
                String row = switch (channel) {
                    case Channels.POSTS -> "{\"id\":" + seq + ",\"author_id\":" + user + ",\"title\":\""
                            + "xyz".charAt(random.nextInt(3)) + "\",\"body\":\"b\"}";
                    case Channels.ACCOUNTS -> "{\"id\":" + seq + ",\"user_id\":" + user
                            + ",\"balance\":1.5,\"currency\":\"USD\"}";
                    default -> "{\"id\":" + user + ",\"name\":\"n" + seq + "\",\"status\":\""
                            + (random.nextBoolean() ? "active" : "inactive") + "\"}";
                };
                String table = switch (channel) {
                    case Channels.POSTS -> "posts";
                    case Channels.ACCOUNTS -> "accounts";
                    default -> "users";
                };
                log.append(frames.logged(position, channel, table, "INSERT", row, new long[] {user}, Instant.now()));
            }
            trace.add("commit " + count + " (through " + seq + ")");
        }

        /** The listener publishes what the log has and the hub has not, in order. */
        void publish(int count) {
            List<ChangeEvent> events = log.events();
            int until = (int) Math.min(events.size(), (long) published + count);
            if (published < until) {
                trace.add("publish through " + events.get(until - 1).position().commitSeq());
            }
            while (published < until) {
                hub.publish(events.get(published++));
            }
        }

        void release() {
            if (log.waiting() > 0) {
                int index = random.nextInt(log.waiting());
                trace.add("release read " + index + " of " + log.waiting());
                log.release(index);
            }
        }

        // ---- the client

        void connect() {
            client = new Client(this);
            client.open();
            if (!eventStream) {
                return;
            }
            if (lastId == null) {
                // Nothing received yet, so nothing to resume after: the stream starts afresh.
                for (Chain old : List.copyOf(chains.values())) {
                    end(old);
                    Chain fresh = new Chain(old.spec);
                    chains.put(old.spec.id(), fresh);
                    all.add(fresh);
                }
            }
            for (Chain chain : chains.values()) {
                if (chain.start == null) {
                    client.expectStart(chain, hub.head());
                }
                client.subscribe(chain, chain.spec.subscribe(""));
            }
            if (lastId != null) {
                trace.add("resume all after " + lastId.commitSeq());
                client.resumeAll(lastId);
            }
        }

        void subscribe() {
            String id = IDS.get(random.nextInt(IDS.size()));
            String channel = CHANNELS.get(random.nextInt(CHANNELS.size()));
            Spec spec = new Spec(id, channel, filter(channel), columns(channel));
            Chain chain = new Chain(spec);
            end(chains.put(id, chain));
            all.add(chain);
            int mode = random.nextInt(4);
            if (mode == 0) {
                chain.snapshotPending = true;
                trace.add("subscribe " + spec + " with a snapshot");
                client.subscribe(chain, spec.subscribe(",\"snapshot\":true"));
            } else if (mode == 1) {
                List<ChangeEvent> events = log.events();
                Position cursor = events.isEmpty() || random.nextInt(4) == 0 ? Position.ORIGIN
                        : events.get(random.nextInt(events.size())).position();
                chain.start = cursor;
                trace.add("subscribe " + spec + " resuming after " + cursor.commitSeq());
                client.subscribe(chain, spec.subscribe(",\"resumeFrom\":\"" + cursor.toCursor() + "\""));
            } else {
                trace.add("subscribe " + spec);
                client.expectStart(chain, hub.head());
                client.subscribe(chain, spec.subscribe(""));
            }
        }

        void unsubscribe() {
            String id = IDS.get(random.nextInt(IDS.size()));
            Chain chain = chains.remove(id);
            if (chain != null) {
                trace.add("unsubscribe " + id);
                end(chain);
                client.send("{\"type\":\"unsubscribe\",\"id\":\"" + id + "\"}");
            }
        }

        void end(Chain chain) {
            if (chain != null) {
                chain.ended = true;
            }
        }

        /** The connection drops; a new one resumes each subscription from the last cursor it got. */
        void reconnect() {
            trace.add("reconnect");
            client.dispose();
            connect();
            if (eventStream) {
                return;
            }
            for (Chain chain : List.copyOf(chains.values())) {
                if (chain.start == null) {
                    // Its snapshot never finished: it starts over, as a new subscription.
                    chains.remove(chain.spec.id());
                    end(chain);
                    continue;
                }
                chain.snapshotPending = false;
                client.subscribe(chain, chain.spec.subscribe(",\"resumeFrom\":\"" + chain.last().toCursor() + "\""));
            }
        }

        void drain() {
            trace.add("drain");
            publish(Integer.MAX_VALUE);
            log.ungate();
            client.request(Long.MAX_VALUE);
            publish(Integer.MAX_VALUE);
            trace.add("drained: reads waiting " + log.waiting() + ", hub head " + hub.head().commitSeq()
                    + ", session handled through " + client.session.state().liveThrough().commitSeq()
                    + ", replaying " + client.session.replaying() + ", buffered " + client.session.bufferedEvents());
        }

        // ---- the model

        void check() {
            List<ChangeEvent> events = log.events();
            for (Chain chain : all) {
                if (chain.start == null) {
                    assertThat(chain.received).as("%s got events before its snapshot ended", chain.spec).isEmpty();
                    continue;
                }
                List<Position> wanted = events.stream()
                        .filter(event -> event.position().isAfter(chain.start) && chain.spec.wants(event, admin))
                        .map(ChangeEvent::position)
                        .toList();
                if (chain.ended) {
                    assertThat(chain.received).as("%s from %s: what it got is where its events begin", chain.spec,
                            chain.start.commitSeq()).hasSizeLessThanOrEqualTo(wanted.size())
                            .containsExactlyElementsOf(wanted.subList(0, Math.min(wanted.size(), chain.received.size())));
                } else {
                    assertThat(chain.received).as("%s from %s", chain.spec, chain.start.commitSeq())
                            .containsExactlyElementsOf(wanted);
                }
            }
            client.checkRelated(events);
        }

        String filter(String channel) {
            int pick = random.nextInt(4);
            if (pick == 0) {
                return null;
            }
            return switch (channel) {
                case Channels.POSTS -> List.of("{\"authorId\":{\"eq\":2}}", "{\"title\":{\"in\":[\"x\",\"y\"]}}",
                        "{\"or\":[{\"authorId\":{\"eq\":1}},{\"title\":{\"eq\":\"z\"}}]}").get(pick - 1);
                case Channels.ACCOUNTS -> "{\"userId\":{\"eq\":" + pick + "}}";
                default -> "{\"status\":{\"eq\":\"active\"}}";
            };
        }

        List<String> columns(String channel) {
            if (random.nextBoolean()) {
                return null;
            }
            return List.of(switch (channel) {
                case Channels.POSTS -> "title";
                case Channels.ACCOUNTS -> "balance";
                default -> "name";
            });
        }

        Caller caller() {
            return new Caller(USER, admin, 1, Instant.now().plusSeconds(3600));
        }
    }

    /** One connection: sends messages, reads frames at the pace the driver sets, and files them by subscription. */
    private static final class Client extends BaseSubscriber<Outbound> {

        final Case world;
        final Sinks.Many<ClientMessage> inbound = Sinks.many().unicast().onBackpressureBuffer();
        /** Plain subscriptions waiting for their `subscribed`: the head when they were asked, at least where they start. */
        final Map<Chain, Position> awaitingStart = new LinkedHashMap<>();
        /** Subscribes sent and not answered yet, per id in order; and the subscriptions as the session has them. */
        final Map<String, java.util.ArrayDeque<Chain>> pending = new HashMap<>();
        final Map<String, Chain> active = new HashMap<>();
        Position sessionStart;
        ChangeSession session;
        final List<JsonNode> changes = new ArrayList<>();

        Client(Case world) {
            this.world = world;
        }

        void open() {
            Authority authority = new Authority() {
                @Override
                public Mono<Caller> verify(String token) {
                    return token.equals("fresh") ? Mono.just(world.caller())
                            : Mono.error(new IllegalArgumentException("bad token"));
                }

                @Override
                public Mono<Boolean> holds(Caller caller) {
                    return Mono.just(true);
                }
            };
            ChangeSession.Context context = new ChangeSession.Context(world.feed, this::snapshot, world.frames,
                    world.metrics, List.of(), authority, 4);
            sessionStart = world.hub.head();
            session = new ChangeSession(world.caller(), "model", context, null);
            if (!world.eventStream) {
                // As over a WebSocket: a live change may be written at once, past the serial step, when
                // the socket has room (here, two times in three) and nothing waits in the step.
                session.writeDirectlyTo(new DirectWriter() {
                    @Override
                    public boolean ready() {
                        return world.random.nextInt(3) != 0;
                    }

                    @Override
                    public void write(Outbound.Frame frame) {
                        world.trace.add("  (written directly)");
                        hookOnNext(frame);
                    }
                });
            }
            session.run(inbound.asFlux()).subscribe(this);
        }

        /** A snapshot reflecting the log as it is when its read is released (its rows do not matter here). */
        private Flux<ChangeSnapshots.Piece> snapshot(String channel, Caller caller, RowFilter filter, Set<String> columns) {
            return world.log.whenReleased(Flux.defer(() -> world.log.head().map(ChangeSnapshots.End::new)));
        }

        void send(String message) {
            inbound.tryEmitNext(ClientMessage.parse(message, JSON));
        }

        void resumeAll(Position after) {
            inbound.tryEmitNext(new ClientMessage.Resume(after.toCursor()));
        }

        void subscribe(Chain chain, String message) {
            pending.computeIfAbsent(chain.spec.id(), id -> new java.util.ArrayDeque<>()).add(chain);
            send(message);
        }

        void expectStart(Chain chain, Position headWhenAsked) {
            awaitingStart.put(chain, headWhenAsked);
        }

        @Override
        protected void hookOnSubscribe(Subscription subscription) {
            request(2);
        }

        @Override
        protected void hookOnError(Throwable failure) {
            world.trace.add("  session failed: " + failure);
            throw new AssertionError("The session failed", failure);
        }

        @Override
        protected void hookOnComplete() {
            world.trace.add("  session completed");
        }

        @Override
        protected void hookOnNext(Outbound out) {
            if (!(out instanceof Outbound.Frame frame)) {
                fail("The session closed: " + out);
                return;
            }
            JsonNode json = JSON.readTree(frame.json());
            String type = json.path("type").asString();
            world.trace.add("  <- " + (type.equals("database_change") ? Position.fromCursor(json.path("cursor").asString())
                    .commitSeq() + " " + json.path("subscriptions") : json.toString()));
            switch (type) {
                case "database_change" -> change(json);
                case "subscribed" -> subscribed(json);
                case "snapshot_end" -> snapshotEnd(json);
                case "unsubscribed" -> json.path("ids").forEach(id -> active.remove(id.asString()));
                case "auth_ok", "snapshot" -> {
                }
                case "error" -> assertThat(json.path("error").asString()).isEqualTo("Invalid token");
                default -> fail("Unexpected frame " + json);
            }
        }

        private void subscribed(JsonNode json) {
            java.util.ArrayDeque<Chain> waiting = pending.get(json.path("id").asString());
            assertThat(waiting).as("subscribed without a subscribe: %s", json).isNotEmpty();
            Chain chain = waiting.removeFirst();
            active.put(chain.spec.id(), chain);
            Position cursor = Position.fromCursor(json.path("cursor").asString());
            Position asked = chain == null ? null : awaitingStart.remove(chain);
            if (asked != null) {
                assertThat(cursor).as("%s starts no earlier than the head when it was asked", chain.spec)
                        .isGreaterThanOrEqualTo(asked);
                assertThat(cursor).as("%s starts no later than the head now", chain.spec)
                        .isLessThanOrEqualTo(world.hub.head());
                chain.start = cursor;
            } else if (chain != null && chain.snapshotPending) {
                chain.snapshotFrom = cursor;
            }
        }

        private void snapshotEnd(JsonNode json) {
            Chain chain = active.get(json.path("id").asString());
            if (chain != null && chain.snapshotPending) {
                chain.snapshotPending = false;
                chain.start = Position.fromCursor(json.path("cursor").asString());
                chain.snapshotThrough = chain.start;
                chain.snapshotOn = this;
            }
        }

        private void change(JsonNode json) {
            changes.add(json);
            Position position = Position.fromCursor(json.path("cursor").asString());
            if (world.eventStream) {
                if (world.lastId != null) {
                    assertThat(position).as("event ids only move forward").isGreaterThan(world.lastId);
                }
                world.lastId = position;
            }
            JsonNode ids = json.path("subscriptions");
            Set<String> columns = new HashSet<>();
            boolean allColumns = ids.isEmpty();
            for (JsonNode id : ids) {
                Chain chain = active.get(id.asString());
                assertThat(chain).as("a frame for %s, which is not subscribed", id).isNotNull();
                assertThat(chain.start).as("a frame for %s before its start is known", id).isNotNull();
                if (!chain.received.isEmpty()) {
                    assertThat(position).as("%s: commit order, each once", chain.spec).isGreaterThan(chain.last());
                }
                chain.received.add(position);
                if (chain.spec.columns() == null) {
                    allColumns = true;
                } else {
                    columns.addAll(chain.spec.columns());
                }
            }
            if (!allColumns) {
                columns.add("id");
                Set<String> sent = new HashSet<>();
                json.path("data").propertyNames().forEach(sent::add);
                assertThat(sent).as("the fields of %s", json).isEqualTo(columns);
            }
        }

        /**
         * For the connection open at the end: every event related to the user after the session
         * started reached it (whole, or in a subscription's frame), except one a snapshot of a
         * subscription it matches accounted for; none whole twice, and every whole one related.
         */
        void checkRelated(List<ChangeEvent> events) {
            Set<Position> seen = new HashSet<>();
            Set<Position> whole = new HashSet<>();
            for (JsonNode change : changes) {
                Position position = Position.fromCursor(change.path("cursor").asString());
                seen.add(position);
                if (change.path("subscriptions").isEmpty()) {
                    assertThat(whole.add(position)).as("sent whole twice: %s", change).isTrue();
                    ChangeEvent event = events.stream().filter(e -> e.position().equals(position)).findFirst()
                            .orElseThrow();
                    assertThat(event.isRelatedTo(USER)).as("sent whole but not related: %s", change).isTrue();
                }
            }
            for (ChangeEvent event : events) {
                if (!event.isRelatedTo(USER) || !event.position().isAfter(sessionStart) || seen.contains(event.position())) {
                    continue;
                }
                // A subscription replaced or removed since may have accounted for it while it was there.
                boolean accounted = world.all.stream().anyMatch(chain -> chain.snapshotOn == this
                        && chain.snapshotFrom != null && chain.spec.wants(event, world.admin)
                        && event.position().isAfter(chain.snapshotFrom)
                        && !event.position().isAfter(chain.snapshotThrough));
                assertThat(accounted).as("the related event %s never reached the session", event.position()).isTrue();
            }
        }
    }
}
