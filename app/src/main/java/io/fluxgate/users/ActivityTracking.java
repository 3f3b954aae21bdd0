package io.fluxgate.users;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

import io.fluxgate.cache.WriteBehind;
import reactor.core.publisher.Mono;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.server.WebFilter;

/**
 * {@code lastActive} on every authenticated request, without an UPDATE per request: each request
 * records "user X seen at T" in the write-behind queue (Redis coalesces a user's touches into one
 * entry), and every flush applies all of them in one UPDATE.
 */
@Configuration(proxyBeanMethods = false)
class ActivityTracking {

    static final String TYPE = "user-last-active";

    /** Records the caller's activity without making the request wait for it. */
    @Bean
    WebFilter activityFilter(WriteBehind writeBehind) {
        return new WebFilter() {
            @Override
            public Mono<Void> filter(org.springframework.web.server.ServerWebExchange exchange,
                    org.springframework.web.server.WebFilterChain chain) {
                // The principal lives in the request's Reactor context, so it is read inside the chain;
                // the Redis write itself is not waited for.
                return exchange.getPrincipal()
                        .filter(JwtAuthenticationToken.class::isInstance)
                        .doOnNext(principal -> writeBehind.enqueue(TYPE, principal.getName(),
                                Long.toString(System.currentTimeMillis())).subscribe())
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
