package io.fluxgate.web;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.Test;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Connections that never end, from a stranger on the network, over raw sockets: silent ones, ones
 * that send part of a request and stop, ones that trickle headers a byte at a time, idle kept-alive
 * ones, stalled bodies, and oversized heads. Each is closed within its bound; a WebSocket and an
 * event stream, which are alive, are not. Bounds are short here (1 to 2 s) so the test is quick;
 * the waits below are generous, so a slow machine makes them slow, not red.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "fluxgate.http.request-header-timeout=1s", "fluxgate.http.request-body-timeout=2s",
        "server.netty.idle-timeout=2s"})
class ConnectionLimitsTest extends IntegrationTest {

    /** Far past every bound above: a connection still open then was never going to be closed. */
    private static final Duration CLOSED_WITHIN = Duration.ofSeconds(30);

    @LocalServerPort
    int port;

    @Test
    void aConnectionThatSendsNothingIsClosedWithoutAnAnswer() throws IOException {
        List<Socket> silent = new ArrayList<>();
        for (int i = 0; i < 15; i++) {
            silent.add(open());
        }
        for (Socket socket : silent) {
            assertThat(readUntilClosed(socket)).isEmpty();
        }
    }

    @Test
    void aRequestThatStopsHalfwayHears408AndIsClosed() throws IOException {
        for (String part : List.of("GET /api/us", "GET /api/users HTTP/1.1\r\nHost: localhost\r\nAccept: ")) {
            try (Socket socket = open()) {
                socket.getOutputStream().write(part.getBytes(StandardCharsets.US_ASCII));
                String answer = readUntilClosed(socket);
                assertThat(answer).startsWith("HTTP/1.1 408").contains("application/problem+json");
            }
        }
    }

    /** A byte every 100 ms keeps any idle timer happy; the header bound still ends it. */
    @Test
    void headersTrickledAByteAtATimeAreCutOff() throws Exception {
        String request = "GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + "s".repeat(2_000) + "\r\n\r\n";
        try (Socket socket = open()) {
            Thread trickler = trickle(socket, request);
            String answer = readUntilClosed(socket);
            trickler.interrupt();
            trickler.join();
            // Two thousand bytes at ten a second would take over three minutes; the server did not wait.
            assertThat(answer).startsWith("HTTP/1.1 408");
        }
    }

    /**
     * A request answered before its body came (401: no token): the body's last bytes and the start of
     * another request arrive together, then a byte at a time. The next request's headers are still
     * timed (408), not left to the idle timeout, which trickled bytes never reset.
     */
    @Test
    void theHeadersAfterARequestAnsweredEarlyAreStillTimed() throws Exception {
        try (Socket socket = open()) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST /api/posts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 10\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(readResponse(socket)).startsWith("HTTP/1.1 401");
            out.write("0123456789GET /api/us".getBytes(StandardCharsets.US_ASCII));
            Thread trickler = trickle(socket, "ers/1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
            String answer = readUntilClosed(socket);
            trickler.interrupt();
            trickler.join();
            assertThat(answer).startsWith("HTTP/1.1 408");
        }
    }

    /** Writes {@code text} a byte every 100 ms on its own thread, until the server closes. */
    private static Thread trickle(Socket socket, String text) {
        Thread trickler = new Thread(() -> {
            try {
                for (byte b : text.getBytes(StandardCharsets.US_ASCII)) {
                    Thread.sleep(100);
                    socket.getOutputStream().write(b);
                    socket.getOutputStream().flush();
                }
            } catch (IOException closedByServer) {
                // what the test expects
            } catch (InterruptedException stopped) {
                Thread.currentThread().interrupt();
            }
        });
        trickler.start();
        return trickler;
    }

    @Test
    void anIdleKeptAliveConnectionIsClosedAfterItsRequests() throws IOException {
        try (Socket socket = open()) {
            OutputStream out = socket.getOutputStream();
            for (int i = 0; i < 2; i++) {
                // Two requests in a row on one connection: each is answered, and the clock re-arms for the next.
                out.write("GET /actuator/health HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(readResponse(socket)).startsWith("HTTP/1.1 200");
            }
            assertThat(readUntilClosed(socket)).isEmpty();
        }
    }

    @Test
    void aBodyThatStallsIsCutOff() throws IOException {
        try (Socket socket = open()) {
            socket.getOutputStream().write(("POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = readUntilClosed(socket);
            assertThat(answer).satisfiesAnyOf(nothing -> assertThat(nothing).isEmpty(),
                    timedOut -> assertThat(timedOut).startsWith("HTTP/1.1 408"));
        }
    }

    @Test
    void oversizedHeadsAreRefused() throws Exception {
        assertThat(exchange("GET /api/users/" + "1".repeat(5_000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n"))
                .startsWith("HTTP/1.1 414");
        assertThat(exchange("GET /actuator/health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "b".repeat(9_000)
                + "\r\n\r\n")).startsWith("HTTP/1.1 431");
        StringBuilder many = new StringBuilder("GET /actuator/health HTTP/1.1\r\nHost: localhost\r\n");
        for (int i = 0; i < 150; i++) {
            many.append("X-").append(i).append(": v\r\n");
        }
        assertThat(exchange(many + "\r\n")).startsWith("HTTP/1.1 431").contains("application/problem+json")
                .contains("at most 100 header fields");
        StringBuilder fine = new StringBuilder("GET /actuator/health HTTP/1.1\r\nHost: localhost\r\n");
        for (int i = 0; i < 90; i++) {
            fine.append("X-").append(i).append(": v\r\n");
        }
        assertThat(exchange(fine + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 200");
    }

    /** A live WebSocket and a live event stream outlast every bound above. */
    @Test
    void aWebSocketAndAnEventStreamStayOpenPastTheBounds() throws Exception {
        Account user = newUser("Long Lived");
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<InputStream> stream = http.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port + "/api/changes/stream?channel=post_changes"))
                .header("Authorization", user.bearer()).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(stream.statusCode()).isEqualTo(200);
        try (WsClient socket = WsClient.connect(port, user.token()); InputStream events = stream.body()) {
            socket.subscribe("post_changes");
            // Open throughout twice the longest bound above; then both still deliver.
            await().during(Duration.ofSeconds(4)).atMost(CLOSED_WITHIN).until(socket::isOpen);
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asString()).isEqualTo("pong");
            long post = createPost(user, "Still here");
            assertThat(socket.next().path("data").path("id").asLong()).isEqualTo(post);
            assertThat(readUntil(events, "\"id\":" + post)).contains("Still here");
        }
    }

    private Socket open() throws IOException {
        Socket socket = new Socket("localhost", port);
        socket.setSoTimeout((int) CLOSED_WITHIN.toMillis());
        return socket;
    }

    /** Everything the server sends until it closes; fails when it keeps the connection open. */
    private static String readUntilClosed(Socket socket) throws IOException {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        byte[] buffer = new byte[4096];
        try {
            for (int read; (read = socket.getInputStream().read(buffer)) >= 0; ) {
                received.write(buffer, 0, read);
            }
        } catch (SocketTimeoutException stillOpen) {
            throw new AssertionError("still open after " + CLOSED_WITHIN + "; received: " + received, stillOpen);
        } catch (SocketException reset) {
            // Closed with a reset: closed all the same.
        }
        return received.toString(StandardCharsets.UTF_8);
    }

    /** One response with a Content-Length body, read off a connection that stays open. */
    private static String readResponse(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            assertThat(b).as("connection closed mid-response").isNotNegative();
            head.append((char) b);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring("content-length:".length()).trim());
            }
        }
        byte[] body = in.readNBytes(length);
        return head + new String(body, StandardCharsets.UTF_8);
    }

    private String exchange(String request) throws IOException {
        try (Socket socket = open()) {
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            return readResponse(socket);
        }
    }

    private static String readUntil(InputStream in, String marker) throws IOException {
        StringBuilder seen = new StringBuilder();
        byte[] buffer = new byte[1024];
        while (!seen.toString().contains(marker)) {
            int read = in.read(buffer);
            assertThat(read).as("event stream ended before " + marker).isNotNegative();
            seen.append(new String(buffer, 0, read, StandardCharsets.UTF_8));
        }
        return seen.toString();
    }
}
