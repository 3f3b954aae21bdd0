package io.fluxgate.support;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A real WebSocket client over the network (the JDK's, nothing of ours), collecting the frames the
 * server sends. {@link #stopReading()} makes it a client that never reads again.
 */
public final class WsClient implements WebSocket.Listener, AutoCloseable {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    public static final Duration WAIT = Duration.ofSeconds(20);

    private final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
    private final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
    private final AtomicInteger pings = new AtomicInteger();
    private final StringBuilder partial = new StringBuilder();
    private volatile boolean reading = true;
    private WebSocket socket;

    private WsClient() {
    }

    /** Connects with the token in the Authorization header. */
    public static WsClient connect(int port, String token) {
        return open(URI.create("ws://localhost:" + port + "/ws/changes"), token);
    }

    /** Connects with the token in {@code ?access_token=}, as browsers must. */
    public static WsClient connectWithQueryToken(int port, String token) {
        return open(URI.create("ws://localhost:" + port + "/ws/changes?access_token=" + token), null);
    }

    /** The HTTP status of a refused upgrade, or 101 when it was accepted. */
    public static int handshakeStatus(int port, String token) {
        return handshakeStatus(URI.create("ws://localhost:" + port + "/ws/changes"), token);
    }

    /** The same with the token in {@code ?access_token=}. */
    public static int handshakeStatusWithQueryToken(int port, String token) {
        return handshakeStatus(URI.create("ws://localhost:" + port + "/ws/changes?access_token=" + token), null);
    }

    private static int handshakeStatus(URI uri, String token) {
        WsClient client = new WsClient();
        try {
            WebSocket.Builder builder = HttpClient.newHttpClient().newWebSocketBuilder();
            if (token != null) {
                builder.header("Authorization", "Bearer " + token);
            }
            builder.buildAsync(uri, client)
                    .get(WAIT.toSeconds(), TimeUnit.SECONDS).abort();
            return 101;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof java.net.http.WebSocketHandshakeException refused) {
                return refused.getResponse().statusCode();
            }
            throw new IllegalStateException(e);
        } catch (InterruptedException | TimeoutException e) {
            throw new IllegalStateException(e);
        }
    }

    private static WsClient open(URI uri, String token) {
        WsClient client = new WsClient();
        WebSocket.Builder builder = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(WAIT);
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        try {
            client.socket = builder.buildAsync(uri, client).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            throw new IllegalStateException("WebSocket connect failed", e);
        }
        return client;
    }

    @Override
    public void onOpen(WebSocket webSocket) {
        webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        partial.append(data);
        if (last) {
            frames.add(JSON.readTree(partial.toString()));
            partial.setLength(0);
        }
        if (reading) {
            webSocket.request(1);
        }
        return null;
    }

    @Override
    public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
        pings.incrementAndGet();
        if (reading) {
            webSocket.request(1);
        }
        return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closeCode.complete(statusCode);
        return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
        closeCode.completeExceptionally(error);
    }

    /** Sends a frame; false when the connection no longer takes any (the server closed it). */
    public boolean trySend(String json) {
        return trySend(json, true);
    }

    /** Sends a frame of a message, its last when {@code last}; false when the connection no longer takes any. */
    public boolean trySend(String text, boolean last) {
        try {
            socket.sendText(text, last).join();
            return true;
        } catch (java.util.concurrent.CompletionException closed) {
            return false;
        }
    }

    public WsClient send(String json) {
        socket.sendText(json, true).join();
        return this;
    }

    public WsClient subscribe(String channel) {
        send("{\"type\":\"subscribe\",\"channel\":\"" + channel + "\"}");
        JsonNode ack = next();
        assertThat(ack.path("type").asString()).as("ack of %s", channel).isEqualTo("subscribed");
        return this;
    }

    public WsClient resume(String channel, String cursor) {
        send("{\"type\":\"subscribe\",\"channel\":\"" + channel + "\",\"resumeFrom\":\"" + cursor + "\"}");
        JsonNode ack = next();
        assertThat(ack.path("type").asString()).isEqualTo("subscribed");
        return this;
    }

    /** The next frame, failing the test if none comes in time. */
    public JsonNode next() {
        try {
            JsonNode frame = frames.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (frame == null) {
                fail("No frame within " + WAIT);
            }
            return frame;
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The next {@code n} frames. */
    public List<JsonNode> next(int n) {
        List<JsonNode> received = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            received.add(next());
        }
        return received;
    }

    /** Asserts that nothing more arrives for a while. */
    public void assertQuietFor(Duration quiet) {
        try {
            JsonNode frame = frames.poll(quiet.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(frame).as("unexpected frame").isNull();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** From now on this client takes no more frames off the socket. */
    public void stopReading() {
        reading = false;
    }

    /** Takes frames off the socket again. */
    public void resumeReading() {
        reading = true;
        socket.request(1);
    }

    /** Whether the server has not closed the connection (nor has it failed). */
    public boolean isOpen() {
        return !closeCode.isDone();
    }

    public int pingsReceived() {
        return pings.get();
    }

    public int awaitClose() {
        try {
            return closeCode.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            throw new IllegalStateException("No close frame", e);
        }
    }

    @Override
    public void close() {
        if (socket != null && !socket.isOutputClosed()) {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").exceptionally(e -> null);
        }
        if (socket != null) {
            socket.abort();
        }
    }
}
