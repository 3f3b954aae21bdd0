package io.fluxgate.security;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.fluxgate.cache.CacheSettings;
import io.fluxgate.web.ApiException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;

/**
 * Limits on what an unauthenticated client can make the service do, each counted in a fixed window
 * ({@code fluxgate.security.throttle.*}): login attempts per email from one client address (tight),
 * per email from everywhere (loose, so locking someone out takes many addresses), per address (any
 * emails), and registrations per address. Past a limit the request answers 429 with
 * {@code Retry-After} (the rest of the window) before any password is hashed.
 *
 * <p>Counters live in Redis, so every replica shares them. While Redis is unreachable each replica
 * counts in memory instead (bounded, same windows): the limits then hold per replica, never vanish.
 * An attempt is counted when it starts, so a burst of parallel guesses cannot all slip past the
 * check; a successful login clears its email's count and takes itself off its address's.
 */
@Component
public class AbuseThrottle {

    private static final Logger log = LoggerFactory.getLogger(AbuseThrottle.class);

    /**
     * Counts one attempt under each key (ARGV[1] is the window, ARGV[i + 1] the limit of KEYS[i]);
     * returns -1 when every count is within its limit, else the longest time left of an exceeded one.
     */
    private static final RedisScript<Long> COUNT = RedisScript.of("""
            local wait = -1
            for i = 1, #KEYS do
              local n = redis.call('INCR', KEYS[i])
              if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
              if n > tonumber(ARGV[i + 1]) then wait = math.max(wait, redis.call('PTTL', KEYS[i])) end
            end
            return wait
            """, Long.class);

    /** After a successful login: the email starts afresh, the address's count loses this attempt. */
    private static final RedisScript<Long> SUCCEEDED = RedisScript.of("""
            redis.call('DEL', KEYS[1], KEYS[2])
            if redis.call('DECR', KEYS[3]) <= 0 then redis.call('DEL', KEYS[3]) end
            return 1
            """, Long.class);

    private final ReactiveStringRedisTemplate redis;
    private final SecurityProperties.Throttle limits;
    private final String prefix;
    private final Duration redisTimeout;
    private final Cache<String, Window> local;
    private final Counter refused;
    private final Counter fallbacks;

    AbuseThrottle(ReactiveStringRedisTemplate redis, SecurityProperties properties, CacheSettings cache,
            MeterRegistry registry) {
        this.redis = redis;
        this.limits = properties.throttle();
        this.prefix = cache.keyPrefix() + "throttle:";
        this.redisTimeout = cache.writeTimeout();
        this.local = Caffeine.newBuilder().maximumSize(100_000).expireAfterWrite(limits.window()).build();
        this.refused = Counter.builder("fluxgate.throttle.refused")
                .description("Requests answered 429 by the login and registration limits").register(registry);
        this.fallbacks = Counter.builder("fluxgate.throttle.local")
                .description("Limit checks counted in memory because Redis was unreachable").register(registry);
    }

    /** Counts a login attempt; 429 when the email (from this address or overall) or the address is over its limit. */
    public Mono<Void> loginAttempt(String email, InetSocketAddress client) {
        return count(loginKeys(email, client),
                List.of(limits.loginAttemptsPerEmail(), limits.loginAttemptsPerEmailOverall(),
                        limits.loginAttemptsPerAddress()),
                "Too many login attempts; try again later");
    }

    /** A login succeeded: forgive its email's failures and take the attempt off its address. */
    public Mono<Void> loginSucceeded(String email, InetSocketAddress client) {
        List<String> keys = loginKeys(email, client);
        return redis.execute(SUCCEEDED, keys, List.of()).then()
                .timeout(redisTimeout)
                .onErrorResume(error -> Mono.fromRunnable(() -> {
                    local.invalidateAll(keys.subList(0, 2));
                    Window window = local.getIfPresent(keys.get(2));
                    if (window != null) {
                        window.count.decrementAndGet();
                    }
                }));
    }

    /** The email from this address, the email from anywhere, and this address: in that order. */
    private List<String> loginKeys(String email, InetSocketAddress client) {
        String address = addressOf(client);
        return List.of(prefix + "login:email:" + email + ":from:" + address, prefix + "login:email:" + email,
                prefix + "login:address:" + address);
    }

    /** Counts a registration; 429 when the address is over its limit. */
    public Mono<Void> registration(InetSocketAddress client) {
        return count(List.of(addressKey("register", client)), List.of(limits.registrationsPerAddress()),
                "Too many registrations from this address; try again later");
    }

    private Mono<Void> count(List<String> keys, List<Integer> maxima, String detail) {
        List<String> args = new ArrayList<>();
        args.add(Long.toString(limits.window().toMillis()));
        maxima.forEach(max -> args.add(Integer.toString(max)));
        return redis.execute(COUNT, keys, args).next()
                .timeout(redisTimeout)
                .onErrorResume(error -> {
                    fallbacks.increment();
                    log.debug("Throttle counted in memory: Redis unavailable ({})", error.toString());
                    return Mono.fromSupplier(() -> countLocally(keys, maxima));
                })
                .flatMap(waitMillis -> {
                    if (waitMillis < 0) {
                        return Mono.empty();
                    }
                    refused.increment();
                    return Mono.error(ApiException.tooManyRequests(detail, Duration.ofMillis(Math.max(1000, waitMillis))));
                });
    }

    private long countLocally(List<String> keys, List<Integer> maxima) {
        long wait = -1;
        long now = System.nanoTime();
        for (int i = 0; i < keys.size(); i++) {
            Window window = local.asMap().compute(keys.get(i),
                    (key, current) -> current == null || current.endsAt - now <= 0
                            ? new Window(now + limits.window().toNanos()) : current);
            if (window.count.incrementAndGet() > maxima.get(i)) {
                wait = Math.max(wait, Duration.ofNanos(window.endsAt - now).toMillis());
            }
        }
        return wait;
    }

    private static final class Window {
        final long endsAt;
        final AtomicInteger count = new AtomicInteger();

        Window(long endsAt) {
            this.endsAt = endsAt;
        }
    }

    private String addressKey(String purpose, InetSocketAddress client) {
        return prefix + purpose + ":address:" + addressOf(client);
    }

    /**
     * The client's address as a counting key. An IPv6 client usually holds a whole /64, so it counts
     * as one: otherwise a single host could rotate through addresses to escape the limit. Anything
     * that is not an address (a forwarded header holding a name or junk) counts as one "unknown"
     * client, so inventing values escapes nothing.
     */
    static String addressOf(InetSocketAddress client) {
        InetAddress address = client == null ? null : client.getAddress();
        if (address == null) {
            return "unknown";
        }
        if (address instanceof Inet6Address) {
            byte[] bytes = address.getAddress();
            StringBuilder prefix64 = new StringBuilder();
            for (int i = 0; i < 8; i += 2) {
                prefix64.append(String.format("%02x%02x:", bytes[i], bytes[i + 1]));
            }
            return prefix64.append(":/64").toString();
        }
        return address.getHostAddress();
    }
}
