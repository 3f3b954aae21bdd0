package io.fluxgate.web;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import io.netty.channel.EventLoop;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;
import reactor.netty.Connection;

import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.http.server.reactive.HttpHandler;
import org.springframework.http.server.reactive.HttpHandlerDecoratorFactory;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import org.springframework.http.server.reactive.ServerHttpResponse;
import org.springframework.http.server.reactive.ServerHttpResponseDecorator;
import org.springframework.stereotype.Component;

/**
 * Starts every HTTP response write on the connection's own event loop.
 *
 * <p>Most answers here are produced on other threads (R2DBC's event loops, the bcrypt pool). Written
 * from there, the response is flushed before the exchange has finished; a keep-alive client's next
 * request then arrives while the previous one still counts as in flight, is queued as pipelined, and
 * Reactor Netty 1.3.6 can stop reading the connection after such a queued request completes at once
 * (reactor/reactor-netty#4361): the request after it waits forever. A write started on the event loop
 * flushes and finishes the exchange in one go, so the next request always finds the last one done.
 * Applied to the whole HTTP handler so error responses (written by exception handlers outside the
 * filter chain) are covered too. Remove once Boot ships a Reactor Netty with the fix; KeepAliveTest
 * guards it.
 */
@Component
public class EventLoopWrites implements HttpHandlerDecoratorFactory {

    private final Map<EventLoop, Scheduler> schedulers = new ConcurrentHashMap<>();

    @Override
    public HttpHandler apply(HttpHandler handler) {
        return (request, response) -> {
            EventLoop loop = eventLoopOf(request);
            return loop == null ? handler.handle(request, response)
                    : handler.handle(request, new LoopBoundResponse(response, loop,
                            schedulers.computeIfAbsent(loop, Schedulers::fromExecutor)));
        };
    }

    private static EventLoop eventLoopOf(ServerHttpRequest request) {
        Object nativeRequest = ServerHttpRequestDecorator.getNativeRequest(request);
        return nativeRequest instanceof Connection connection ? connection.channel().eventLoop() : null;
    }

    private static final class LoopBoundResponse extends ServerHttpResponseDecorator {

        private final EventLoop loop;
        private final Scheduler scheduler;

        LoopBoundResponse(ServerHttpResponse delegate, EventLoop loop, Scheduler scheduler) {
            super(delegate);
            this.loop = loop;
            this.scheduler = scheduler;
        }

        @Override
        public Mono<Void> writeWith(Publisher<? extends DataBuffer> body) {
            return onLoop(() -> super.writeWith(body));
        }

        @Override
        public Mono<Void> writeAndFlushWith(Publisher<? extends Publisher<? extends DataBuffer>> body) {
            return onLoop(() -> super.writeAndFlushWith(body));
        }

        @Override
        public Mono<Void> setComplete() {
            return onLoop(super::setComplete);
        }

        private Mono<Void> onLoop(Supplier<Mono<Void>> write) {
            return Mono.defer(() -> loop.inEventLoop() ? write.get() : Mono.defer(write).subscribeOn(scheduler));
        }
    }
}
