package io.fluxgate.changes;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.fluxgate.changes.capture.ChangeLog;
import io.fluxgate.changes.capture.ChangeLogReader;
import io.fluxgate.changes.delivery.SubscribeCheck;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.RawWsClient;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** What one client may cost the change stream: sessions, frames, and the change log it makes us read. */
@TestPropertySource(properties = {
        "fluxgate.changes.max-sessions-per-user=3",
        "fluxgate.changes.max-client-frames-per-second=5",
        "fluxgate.changes.client-frame-burst=20",
        "fluxgate.changes.snapshot-max-rows=5"})
class ChangeStreamLimitsTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Autowired
    DatabaseClient db;

    @Autowired
    @Qualifier("analyticsDatabaseClient")
    DatabaseClient analytics;

    @Autowired
    ChangeFrames frames;

    @Autowired
    ChangeStreamMetrics metrics;

    @Test
    void pastItsSessionLimitAUsersUpgradeAnswers429() {
        Account user = newUser("Many Tabs");
        List<WsClient> open = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                // Answered, so its session is open on the server (the handshake completes before it is).
                open.add(WsClient.connect(port, user.token()).subscribe("user_changes"));
            }
            assertThat(WsClient.handshakeStatus(port, user.token())).isEqualTo(429);
            assertThat(WsClient.handshakeStatus(port, newUser("Someone Else").token())).as("other users unaffected")
                    .isEqualTo(101);
            open.remove(0).close();
            await().atMost(Duration.ofSeconds(10)).until(() -> WsClient.handshakeStatus(port, user.token()) == 101);
        } finally {
            open.forEach(WsClient::close);
        }
    }

    /**
     * A burst of subscribe frames from ordinary client libraries, which read the close code only if
     * the server lets the closing handshake finish: the JDK's client sending one frame after another,
     * and Reactor Netty's writing thousands at once. Both must hear 1008, not 1006.
     */
    @ParameterizedTest
    @ValueSource(ints = {1_000, 3_000})
    void aClientFloodingFramesHears1008ThroughTheJdkClient(int frames) {
        Account user = newUser("Flooder");
        try (WsClient ws = WsClient.connect(port, user.token())) {
            for (int i = 0; i < frames && ws.isOpen(); i++) {
                if (!ws.trySend("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"f" + i + "\"}")) {
                    break; // the server closed while frames were still going out
                }
            }
            assertThat(ws.awaitClose()).isEqualTo(1008);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1_000, 3_000})
    void aClientFloodingFramesHears1008ThroughReactorNetty(int frames) {
        Account user = newUser("Flooder");
        Integer code = reactor.netty.http.client.HttpClient.create()
                .headers(headers -> headers.add(HttpHeaders.AUTHORIZATION, user.bearer()))
                .websocket()
                .uri("ws://localhost:" + port + "/ws/changes")
                .handle((in, out) -> out.sendString(reactor.core.publisher.Flux.range(0, frames)
                                .map(i -> "{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"f" + i + "\"}"))
                        .then()
                        .onErrorResume(closedMidFlood -> reactor.core.publisher.Mono.empty())
                        .thenMany(in.receiveCloseStatus().map(status -> status.code())))
                .next()
                .block(WsClient.WAIT);
        assertThat(code).isEqualTo(1008);
    }

    /**
     * One frame over 64 KiB, from a raw client (the JDK's splits long messages into fragments) that
     * writes its whole frame before it reads anything, as a simple blocking client does: the server
     * must read the frame to its end, or the client's write fails with a reset before it ever sees the
     * close frame (4 MiB is far more than the sockets' buffers hold).
     */
    @ParameterizedTest
    @ValueSource(ints = {70 * 1024, 4 * 1024 * 1024})
    void aFrameOver64KiBClosesWith1009(int padding) throws Exception {
        Account user = newUser("Big Talker");
        try (RawWsClient ws = RawWsClient.connect(port, user.token(), 64 * 1024)) {
            ws.sendText("{\"type\":\"ping\",\"pad\":\"" + "x".repeat(padding) + "\"}");
            assertThat(ws.awaitCloseCode()).isEqualTo(1009);
        }
    }

    /**
     * A message over the bound from the JDK's own client (which sends it in fragments), also one far
     * over it: the client hears 1009 although most of its message was still on its way when the
     * server refused it. The rest is read and dropped before the connection closes.
     */
    @ParameterizedTest
    @ValueSource(ints = {70 * 1024, 4 * 1024 * 1024})
    void aFrameOverTheBoundClosesWith1009ForAnOrdinaryClient(int padding) {
        Account user = newUser("Big Sender");
        try (WsClient ws = WsClient.connect(port, user.token())) {
            ws.trySend("{\"type\":\"ping\",\"pad\":\"" + "x".repeat(padding) + "\"}");
            assertThat(ws.awaitClose()).isEqualTo(1009);
        }
    }

    /**
     * What the server reads after refusing a frame is bounded: a client that goes on sending (a 48 MiB
     * frame) is cut off once 16 MiB more came, and its write fails, rather than being read for the
     * whole closing wait.
     */
    @Test
    void aClientThatGoesOnSendingAfterItsFrameWasRefusedIsCutOff() throws Exception {
        Account user = newUser("Endless Sender");
        try (RawWsClient ws = RawWsClient.connect(port, user.token(), 64 * 1024)) {
            String padding = "x".repeat(48 * 1024 * 1024);
            assertThatThrownBy(() -> ws.sendText(padding)).isInstanceOf(IOException.class);
        }
    }

    /**
     * A malformed frame while the connection is already closing (here after a flood, 1008): what is
     * read after it is bounded too, and 48 MiB of bytes behind it are not all read.
     */
    @Test
    void aFrameRefusedWhileTheSessionIsClosingStillEndsWithinTheBound() throws Exception {
        Account user = newUser("Flood Then Garbage");
        try (RawWsClient ws = RawWsClient.connect(port, user.token(), 64 * 1024)) {
            for (int i = 0; i < 30; i++) {
                ws.sendText("{\"type\":\"ping\"}");
            }
            ws.sendUnmaskedText("{}");
            byte[] garbage = new byte[48 * 1024 * 1024];
            assertThatThrownBy(() -> ws.sendRaw(garbage)).isInstanceOf(IOException.class);
        }
    }

    /** A frame that breaks the protocol (a client frame without its mask) closes with 1002, also through the handshake. */
    @Test
    void anUnmaskedFrameClosesWith1002() throws Exception {
        Account user = newUser("Careless Client");
        try (RawWsClient ws = RawWsClient.connect(port, user.token(), 64 * 1024)) {
            ws.sendUnmaskedText("{\"type\":\"ping\"}");
            assertThat(ws.awaitCloseCode()).isEqualTo(1002);
        }
    }

    /** The bound is on the message: one split into frames each under it, but together over it, gets 1009 too. */
    @Test
    void aMessageOverTheBoundInSmallFramesClosesWith1009() {
        Account user = newUser("Piecemeal Sender");
        try (WsClient ws = WsClient.connect(port, user.token())) {
            String part = "x".repeat(40 * 1024);
            ws.trySend("{\"type\":\"ping\",\"pad\":\"" + part, false);
            ws.trySend(part, false);
            ws.trySend(part + "\"}", true);
            assertThat(ws.awaitClose()).isEqualTo(1009);
        }
    }

    /**
     * A non-admin resuming user_changes from the very start of the log: the database returns only its
     * own events; nobody else's row is read into the service, let alone sent.
     */
    @Test
    void aNonAdminsResumeReadsOnlyItsOwnEventsFromTheLog() {
        Account me = newUser("Resumer");
        for (int i = 0; i < 30; i++) {
            newUser("Noise " + i);
        }
        client.patch().uri("/api/users/{id}", me.id()).header(HttpHeaders.AUTHORIZATION, me.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("bio", "mine")).exchange()
                .expectStatus().isOk();
        ChangeLogReader reader = new ChangeLogReader(analytics, frames, 5, Long.MAX_VALUE);
        List<ChangeEvent> read = reader.after(Position.ORIGIN, ChangeLog.Filter.relatedOn(Channels.USERS, me.id(), null))
                .collectList().block(Duration.ofSeconds(30));
        assertThat(read).hasSize(2).allSatisfy(event -> assertThat(event.isRelatedTo(me.id())).isTrue());

        try (WsClient ws = WsClient.connect(port, me.token())) {
            ws.resume("user_changes", Position.ORIGIN.toCursor());
            List<JsonNode> frames = ws.next(2);
            assertThat(frames).extracting(frame -> frame.path("data").path("id").asLong()).containsOnly(me.id());
            assertThat(frames.get(1).path("data").path("bio").asString()).isEqualTo("mine");
            ws.assertQuietFor(Duration.ofMillis(300));
        }
    }

    @Test
    void aTransferEventCarriesNoIdempotencyKey() {
        Account admin = admin();
        Account sender = newUser("Keyed Sender");
        Account recipient = newUser("Curious Recipient");
        for (Account account : List.of(sender, recipient)) {
            client.post().uri("/api/accounts").header(HttpHeaders.AUTHORIZATION, account.bearer()).exchange()
                    .expectStatus().isCreated();
        }
        client.post().uri("/api/accounts/{id}/deposit", sender.id()).header(HttpHeaders.AUTHORIZATION, admin.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("amount", "10.00")).exchange()
                .expectStatus().isOk();
        try (WsClient ws = WsClient.connect(port, recipient.token())) {
            ws.subscribe("account_changes");
            client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, sender.bearer())
                    .contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(Map.of("toUserId", recipient.id(), "amount", "1.00", "idempotencyKey", "sender-secret-key"))
                    .exchange().expectStatus().isCreated();
            JsonNode event = nextFrom(ws, "transfers");
            assertThat(event.path("data").path("toUserId").asLong()).isEqualTo(recipient.id());
            assertThat(event.toString()).doesNotContain("sender-secret-key").doesNotContain("idempotency");
        }
        long logged = db.sql("SELECT count(*) AS n FROM change_log WHERE row_data::text LIKE '%sender-secret-key%'")
                .map(row -> row.get("n", Long.class)).one().block();
        assertThat(logged).as("the key never reaches the change log").isZero();
    }

    private static JsonNode nextFrom(WsClient ws, String table) {
        while (true) {
            JsonNode frame = ws.next();
            if (table.equals(frame.path("table").asString())) {
                return frame;
            }
        }
    }

    /**
     * A client whose socket is full is asked for no frames, so its session has nothing to write: when
     * it then vanishes, the closed connection alone must end the session and give its slot back, well
     * before any ping would notice (every 30 s).
     */
    @Test
    void aStalledClientThatVanishesGivesItsSessionBackAtOnce() throws Exception {
        Account author = newUser("Flood");
        Account user = newUser("Vanishing");
        double overflowsBefore = metrics.overflows.count();
        List<WsClient> open = new ArrayList<>();
        try {
            RawWsClient stalled = RawWsClient.connect(port, user.token(), 16 * 1024);
            stalled.sendText("{\"type\":\"subscribe\",\"channel\":\"post_changes\"}");
            assertThat(stalled.nextText()).contains("subscribed");
            for (int i = 0; i < 2; i++) {
                open.add(WsClient.connect(port, user.token()).subscribe("user_changes"));
            }
            assertThat(WsClient.handshakeStatus(port, user.token())).as("the user's sessions are all taken")
                    .isEqualTo(429);

            // Far more than the socket buffers and the session's buffer hold: the stalled session
            // overflows, and its writer waits on a full socket.
            db.sql("INSERT INTO posts (author_id, title, body)"
                            + " SELECT $1, 'bulk-' || g, repeat('x', 4000) FROM generate_series(1, 3000) AS g")
                    .bind(0, author.id()).fetch().rowsUpdated().block();
            await().atMost(Duration.ofSeconds(30)).until(() -> metrics.overflows.count() > overflowsBefore);

            stalled.abort();
            await().atMost(Duration.ofSeconds(15)).until(() -> WsClient.handshakeStatus(port, user.token()) == 101);
        } finally {
            open.forEach(WsClient::close);
        }
    }

    @Test
    void theEventStreamCountsAgainstTheSameSessionLimit() {
        Account user = newUser("Streams Too");
        List<WsClient> open = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                // Answered, so its session is open on the server (the handshake completes before it is).
                open.add(WsClient.connect(port, user.token()).subscribe("user_changes"));
            }
            client.get().uri("/api/changes/stream?channel=post_changes").header(HttpHeaders.AUTHORIZATION, user.bearer())
                    .exchange().expectStatus().isEqualTo(429)
                    .expectHeader().exists(HttpHeaders.RETRY_AFTER)
                    .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
        } finally {
            open.forEach(WsClient::close);
        }
    }

    @Test
    void aSnapshotOfMoreRowsThanTheBoundIsRefusedAndSubscribesNothing() {
        Account user = newUser("Greedy");
        for (int i = 0; i < 6; i++) {
            client.post().uri("/api/posts").header(HttpHeaders.AUTHORIZATION, user.bearer())
                    .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("title", "p" + i, "body", "b"))
                    .exchange().expectStatus().isCreated();
        }
        try (WsClient ws = WsClient.connect(port, user.token())) {
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"all\",\"snapshot\":true}");
            assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
            JsonNode refused = ws.next();
            assertThat(refused.path("error").asString()).isEqualTo("Snapshot refused");
            assertThat(refused.path("detail").asString()).contains("more than a snapshot may cover");
            ws.send("{\"type\":\"unsubscribe\",\"id\":\"all\"}");
            assertThat(ws.next().path("error").asString()).as("the subscription is gone").isEqualTo("Unknown subscription");
        }
    }

    @Test
    void aSessionsFiltersTogetherStayWithinTheirBudget() {
        Account user = newUser("Filter Hoarder");
        StringBuilder fifty = new StringBuilder("{\"or\":[");
        for (int i = 0; i < 50; i++) {
            fifty.append(i == 0 ? "" : ",").append("{\"id\":{\"eq\":").append(i).append("}}");
        }
        fifty.append("]}");
        try (WsClient ws = WsClient.connect(port, user.token())) {
            for (int i = 0; i < SubscribeCheck.MAX_SESSION_CONDITIONS / 50; i++) {
                ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"f" + i + "\",\"filter\":" + fifty + "}");
                assertThat(ws.next().path("type").asString()).isEqualTo("subscribed");
            }
            ws.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"one more\",\"filter\":{\"id\":{\"eq\":1}}}");
            JsonNode error = ws.next();
            assertThat(error.path("error").asString()).isEqualTo("Invalid filter");
            assertThat(error.path("detail").asString()).contains("at most " + SubscribeCheck.MAX_SESSION_CONDITIONS);
        }
    }
}
