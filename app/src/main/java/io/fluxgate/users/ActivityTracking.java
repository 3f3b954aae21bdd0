package io.fluxgate.users;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

import io.fluxgate.cache.WriteBehind;
import reactor.core.publisher.Mono;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;

/**
 * {@code lastActive} on every authenticated request, without an UPDATE or even a Redis command per
 * request: each request notes "user X seen at T" in memory ({@link RecentActivity}, a user's touches
 * coalesce), the notes go to the write-behind queue in Redis once a second, and every write-behind
 * flush applies all of them in one UPDATE.
 */
@Configuration(proxyBeanMethods = false)
class ActivityTracking {

    static final String TYPE = "user-last-active";

    /** Notes the caller's activity; the request never waits for it. */
    @Bean
    WebFilter activityFilter(RecentActivity activity, Warmup warmup) {
        return new WebFilter() {
            @Override
            public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
                // The principal lives in the request's Reactor context, so it is read inside the chain.
                return exchange.getPrincipal()
                        .filter(principal -> principal instanceof JwtAuthenticationToken
                                && !warmup.isWarmingUpAs(principal.getName()))
                        .doOnNext(principal -> activity.seen(principal.getName(), System.currentTimeMillis()))
                        .then(chain.filter(exchange));
            }
        };
    }

    @Bean
    WriteBehind.BatchWriter lastActiveWriter(UserService users) {
        return new WriteBehind.BatchWriter() {
            @Override
            public String type() {
                return TYPE;
            }

            @Override
            public Mono<Void> apply(Map<String, String> batch) {
                Map<Long, Instant> lastSeen = new LinkedHashMap<>();
                batch.forEach((id, millis) -> lastSeen.put(Long.parseLong(id), Instant.ofEpochMilli(Long.parseLong(millis))));
                return users.recordActivity(lastSeen).then();
            }
        };
    }
}
