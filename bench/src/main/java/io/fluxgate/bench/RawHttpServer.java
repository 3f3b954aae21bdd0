package io.fluxgate.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * The HTTP ceiling of this machine for the REST bench: a bare Reactor Netty server (the engine under
 * the service) that answers every request with the same pre-encoded JSON body the service sends for a
 * cached user read. No routing, security, metrics or serialization; whatever the service does below
 * this rate goes to those.
 *
 * <pre>java -cp bench/target/classes:$(cat bench/target/classpath.txt) io.fluxgate.bench.RawHttpServer --port=8090 --body=user.json</pre>
 */
public final class RawHttpServer {

    private RawHttpServer() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = BenchClient.options(args);
        int port = Integer.parseInt(options.getOrDefault("port", "8090"));
        byte[] body = Files.readAllBytes(Path.of(options.get("body")));
        ByteBuf shared = Unpooled.unreleasableBuffer(Unpooled.directBuffer(body.length).writeBytes(body));
        DisposableServer server = HttpServer.create()
                .port(port)
                .handle((request, response) -> response
                        .header(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                        .header(HttpHeaderNames.CONTENT_LENGTH, Integer.toString(body.length))
                        .send(Mono.just(shared.duplicate())))
                .bindNow();
        System.out.println("raw HTTP server on port " + server.port());
        server.onDispose().block();
    }
}
