package io.fluxgate.users;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.fluxgate.cache.CacheSettings;
import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.changes.hub.Channels;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

/**
 * Users by id in this replica's memory, in front of Redis, so a hot read costs no network round trip.
 *
 * <p>Kept correct by the change stream itself: every replica's listener receives every committed
 * change to {@code users} in commit order, and each one evicts that user here. A change made by this
 * replica is evicted at once as well, before its answer goes out. The near cache is trusted only while
 * the listener is current ({@link ChangeHub#isCurrent()}); while it reconnects or falls silent, reads
 * go to Redis and PostgreSQL and the near cache is emptied. So a read here is at most as stale as the
 * listener's lag behind a commit (milliseconds; at worst {@link ChangeHub#maxSilence} if it stalls
 * unnoticed), and entries also expire after {@code fluxgate.cache.near.ttl}.
 *
 * <p>An event can arrive before the writing replica has deleted the Redis copy, so for a short while
 * after a user changed ({@link #settling}: the cache write timeout plus a second) what a miss reads is
 * passed on but not kept: the old Redis copy must not be re-learned here.
 *
 * <p>{@code lastActive} is not a change event (V3 migration), so a near-cached user's lastActive trails
 * the database by up to the near TTL, like the Redis copy does by up to its own.
 */
@Component
class UserNearCache implements DisposableBean {

    private final ChangeHub hub;
    private final Cache<Long, User> users;
    /** Users changed within the settling time: reads of them are not kept. */
    private final Cache<Long, Boolean> settling;
    private final boolean enabled;
    /** Bumped by every eviction: a load that saw it move may have read what was evicted, and is not kept. */
    private final AtomicLong evictions = new AtomicLong();
    private final Disposable subscription;
    private final Counter hits;
    private final Counter misses;
    private volatile boolean holding;

    UserNearCache(ChangeHub hub, CacheSettings settings, MeterRegistry registry) {
        this.hub = hub;
        this.hits = Counter.builder("fluxgate.cache.near.hits").description("Users read from this replica's memory")
                .register(registry);
        this.misses = Counter.builder("fluxgate.cache.near.misses")
                .description("User reads that went on to Redis while the near cache was trusted").register(registry);
        this.enabled = settings.enabled() && settings.near().maxUsers() > 0;
        this.users = Caffeine.newBuilder()
                .maximumSize(Math.max(settings.near().maxUsers(), 1))
                .expireAfterWrite(settings.near().ttl())
                .build();
        this.settling = Caffeine.newBuilder()
                .maximumSize(Math.max(settings.near().maxUsers(), 1))
                .expireAfterWrite(settings.writeTimeout().plus(Duration.ofSeconds(1)))
                .build();
        this.subscription = hub.onCommitted(this::onCommitted);
    }

    /** The user from memory when the listener is current, else {@code load}'s (kept for next time). */
    Mono<User> byId(long id, Mono<User> load) {
        if (!trusted()) {
            return load;
        }
        User known = users.getIfPresent(id);
        if (known != null) {
            hits.increment();
            return Mono.just(known);
        }
        misses.increment();
        if (settling.getIfPresent(id) != null) {
            return load;
        }
        long seen = evictions.get();
        return load.doOnNext(user -> keep(id, user, seen));
    }

    void evict(long id) {
        evictions.incrementAndGet();
        settling.put(id, Boolean.TRUE);
        users.invalidate(id);
    }

    /**
     * Put first, then check: an eviction that began before the check is seen and undoes the put; one
     * that begins after it removes the entry itself. Either way no evicted value survives.
     */
    private void keep(long id, User user, long seen) {
        users.put(id, user);
        if (evictions.get() != seen || !trusted()) {
            users.invalidate(id);
        }
    }

    private boolean trusted() {
        if (!enabled) {
            return false;
        }
        if (hub.isCurrent()) {
            holding = true;
            return true;
        }
        if (holding) {
            holding = false;
            evictions.incrementAndGet();
            users.invalidateAll();
        }
        return false;
    }

    private void onCommitted(ChangeEvent event) {
        if (Channels.USERS.equals(event.channel())) {
            for (long id : event.userIds()) {
                evict(id);
            }
        }
    }

    /** Whether the user is held here now (for tests and diagnostics). */
    boolean holds(long id) {
        return users.getIfPresent(id) != null;
    }

    @Override
    public void destroy() {
        subscription.dispose();
    }
}
