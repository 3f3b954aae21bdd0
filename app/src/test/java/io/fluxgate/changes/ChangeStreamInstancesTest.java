package io.fluxgate.changes;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.fluxgate.support.Instances;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.Tx;
import io.fluxgate.support.WsClient;
import io.r2dbc.spi.ConnectionFactory;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ConfigurableApplicationContext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** More than one application on one database, and applications that stop and start again. */
class ChangeStreamInstancesTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Autowired
    ConnectionFactory connections;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    @Autowired
    org.springframework.core.env.Environment environment;

    @Test
    void twoInstancesOnOneDatabaseEachServeTheirOwnClients() {
        Account author = newUser("Shared");
        try (ConfigurableApplicationContext other = startInstance(Map.of());
                WsClient here = WsClient.connect(port, author.token());
                WsClient there = WsClient.connect(portOf(other), author.token())) {
            here.subscribe("post_changes");
            there.subscribe("post_changes");
            insertPost(author, "seen by both");
            JsonNode fromHere = here.next();
            JsonNode fromThere = there.next();
            assertThat(title(fromHere)).isEqualTo("seen by both");
            assertThat(fromThere.path("cursor").asString()).isEqualTo(fromHere.path("cursor").asString());
        }
    }

    @Test
    void aClientResumesAcrossAFullRestartAndHears1001OnShutdown() {
        Account author = newUser("Restart");
        String cursor;
        ConfigurableApplicationContext first = startInstance(Map.of());
        try (WsClient ws = WsClient.connect(portOf(first), author.token())) {
            ws.subscribe("post_changes");
            insertPost(author, "before the restart");
            cursor = ws.next().path("cursor").asString();
            first.close();
            assertThat(ws.awaitClose()).isEqualTo(1001);
        }
        List<String> missed = List.of("while down 1", "while down 2", "while down 3", "while down 4");
        missed.forEach(title -> insertPost(author, title));
        try (ConfigurableApplicationContext second = startInstance(Map.of());
                WsClient ws = WsClient.connect(portOf(second), author.token())) {
            ws.resume("post_changes", cursor);
            assertThat(ws.next(4)).extracting(ChangeStreamInstancesTest::title).containsExactlyElementsOf(missed);
            insertPost(author, "after the restart");
            assertThat(title(ws.next())).isEqualTo("after the restart");
            ws.assertQuietFor(Duration.ofMillis(300));
        }
    }

    @Test
    void idleClientsArePinged() {
        Account user = newUser("Idle");
        // A second between pings: a busy machine may take a few hundred milliseconds to pong, which a
        // shorter interval would take for a dead client.
        try (ConfigurableApplicationContext pinging = startInstance(Map.of("fluxgate.changes.ping-interval", "1s"));
                WsClient ws = WsClient.connect(portOf(pinging), user.token())) {
            await().atMost(Duration.ofSeconds(20)).until(() -> ws.pingsReceived() >= 2);
            // It answered every ping (the JDK client pongs by itself), so it is still connected.
            ws.send("{\"type\":\"ping\"}");
            assertThat(ws.next().path("type").asString()).isEqualTo("pong");
        }
    }

    @Test
    void aClientThatStopsAnsweringPingsIsClosed() throws Exception {
        Account user = newUser("Vanished");
        try (ConfigurableApplicationContext pinging = startInstance(Map.of("fluxgate.changes.ping-interval", "200ms"));
                Socket raw = new Socket("localhost", portOf(pinging))) {
            // A hand-made upgrade, then silence: pings are never answered.
            raw.getOutputStream().write(("GET /ws/changes HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    + "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " + user.token() + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            raw.setSoTimeout((int) WsClient.WAIT.toMillis());
            InputStream in = raw.getInputStream();
            byte[] buffer = new byte[4096];
            StringBuilder received = new StringBuilder();
            int read;
            while ((read = in.read(buffer)) >= 0) {
                received.append(new String(buffer, 0, read, StandardCharsets.ISO_8859_1));
            }
            assertThat(received.toString()).startsWith("HTTP/1.1 101");
            // The server sent pings, then a close frame (opcode 0x8), then hung up.
            assertThat(received.toString()).contains("\u0089").contains("\u0088");
        }
    }

    private ConfigurableApplicationContext startInstance(Map<String, Object> extra) {
        return Instances.start(environment, postgresConnectionOptions, extra);
    }

    private static int portOf(ConfigurableApplicationContext context) {
        return Instances.portOf(context);
    }

    private void insertPost(Account author, String title) {
        Tx.commitPost(connections, author.id(), title);
    }

    private static String title(JsonNode frame) {
        return frame.path("data").path("title").asString();
    }
}
