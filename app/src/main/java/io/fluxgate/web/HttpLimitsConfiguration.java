package io.fluxgate.web;

import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpServerCodec;
import reactor.netty.NettyPipeline;

import org.springframework.boot.reactor.netty.NettyServerCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Every HTTP connection bounded in time: its request headers (see {@link RequestTimeouts}) and
 * body ({@code fluxgate.http.*}), and the wait between requests ({@code server.netty.idle-timeout},
 * which Boot applies). Reactor Netty leaves upgraded WebSockets and streaming responses to their own
 * pings; so do these.
 */
@Configuration(proxyBeanMethods = false)
class HttpLimitsConfiguration {

    @Bean
    NettyServerCustomizer connectionTimeouts(HttpLimitsProperties limits) {
        long headerNanos = limits.requestHeaderTimeout().toNanos();
        long bodyNanos = limits.requestBodyTimeout().toNanos();
        return server -> server.doOnChannelInit((observer, channel, remoteAddress) -> {
            ChannelPipeline pipeline = channel.pipeline();
            // Plain HTTP/1.1, the only protocol served (no h2c, no TLS here: the ingress ends it).
            if (pipeline.get(NettyPipeline.HttpCodec) instanceof HttpServerCodec) {
                RequestTimeouts.install(pipeline, NettyPipeline.HttpCodec, headerNanos, bodyNanos);
            }
        });
    }
}
