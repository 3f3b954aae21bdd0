package io.fluxgate.changes;

import java.util.List;

import io.fluxgate.changes.delivery.ChangeFeed;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.RawWsClient;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A client that stops reading must not hold up anyone else or make the server buffer without bound:
 * past its (here tiny) buffer it falls behind, catches up at its own pace when it reads again (from
 * the hub's memory, or from the change log once it is further behind than that), and gets
 * everything, once, in order.
 */
class ChangeStreamBackpressureTest {

    @Nested
    @TestPropertySource(properties = {"fluxgate.changes.session-buffer=16", "fluxgate.changes.hub-history=8192"})
    class CatchingUpFromMemory extends SlowClientContract {
    }

    @Nested
    @TestPropertySource(properties = {"fluxgate.changes.session-buffer=16", "fluxgate.changes.hub-history=64"})
    class CatchingUpFromTheLog extends SlowClientContract {
    }

    /** Counts so large they never bind: the session's own weight bound does, and the ring's. */
    @Nested
    @TestPropertySource(properties = {"fluxgate.changes.session-buffer=1000000", "fluxgate.changes.hub-history=1000000",
            "fluxgate.changes.session-buffer-bytes=256KB", "fluxgate.changes.hub-history-bytes=1MB"})
    class BoundedByTheSessionsWeight extends SlowClientContract {
    }

    /** Only the weight of all sessions' buffers together binds. */
    @Nested
    @TestPropertySource(properties = {"fluxgate.changes.session-buffer=1000000", "fluxgate.changes.hub-history=1000000",
            "fluxgate.changes.session-buffer-bytes=1GB", "fluxgate.changes.session-buffers-bytes=256KB",
            "fluxgate.changes.hub-history-bytes=1MB"})
    class BoundedByTheReplicasWeight extends SlowClientContract {
    }
}

abstract class SlowClientContract extends IntegrationTest {

    private static final int EVENTS = 3000;

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @LocalServerPort
    int port;

    @Autowired
    DatabaseClient db;

    @Autowired
    ChangeStreamMetrics metrics;

    @Autowired
    ChangeFeed feed;

    @Autowired
    ChangeHub hub;

    @Autowired
    ChangeStreamProperties properties;

    @Test
    void aClientThatNeverReadsDelaysNobodyAndCostsBoundedMemory() throws Exception {
        Account author = newUser("Flood");
        Account fastReader = newUser("Fast");
        Account slowReader = newUser("Slow");
        double overflowsBefore = metrics.overflows.count();
        try (RawWsClient slow = RawWsClient.connect(port, slowReader.token(), 16 * 1024);
                WsClient fast = WsClient.connect(port, fastReader.token())) {
            slow.sendText("{\"type\":\"subscribe\",\"channel\":\"post_changes\"}");
            assertThat(slow.nextText()).contains("subscribed");
            fast.subscribe("post_changes");
            // From here on the slow client reads nothing.

            // ~12 MB of frames: far more than the socket buffers between server and client hold.
            db.sql("INSERT INTO posts (author_id, title, body)"
                            + " SELECT $1, 'bulk-' || g, repeat('x', 4000) FROM generate_series(1, $2) AS g")
                    .bind(0, author.id()).bind(1, EVENTS).fetch().rowsUpdated().block();

            assertInOrder(fast.next(EVENTS));
            assertThat(metrics.overflows.count()).as("the slow session outgrew its buffer").isGreaterThan(overflowsBefore);
            assertThat(hub.ringUse()[1]).as("the ring's weight").isLessThanOrEqualTo(properties.hubHistoryBytes().toBytes());
            // What waits in the buffers is within the replica's bound (one event over for a session that held none).
            assertThat(feed.bufferedBytes()).isLessThanOrEqualTo(properties.sessionBuffersBytes().toBytes() + 64 * 1024);

            List<JsonNode> late = new java.util.ArrayList<>();
            for (int i = 0; i < EVENTS; i++) {
                late.add(JSON.readTree(slow.nextText()));
            }
            assertInOrder(late);
        }
        // Every byte counted against the buffers was given back.
        org.awaitility.Awaitility.await().atMost(WsClient.WAIT).until(() -> feed.bufferedBytes() == 0);
    }

    private static void assertInOrder(List<JsonNode> frames) {
        for (int i = 0; i < frames.size(); i++) {
            assertThat(frames.get(i).path("data").path("title").asString()).isEqualTo("bulk-" + (i + 1));
        }
    }
}
