package io.fluxgate.users;

import io.fluxgate.cache.CacheSettings;
import io.fluxgate.cache.RedisCache;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;

/**
 * Users cached in Redis by id (30 minutes) and by email (5 minutes), with keys from configuration,
 * and by id in this replica's memory in front of that ({@link UserNearCache}). The cached JSON is the
 * API's user: there is no password or hash to leak. {@code lastActive} in a cached user may trail the
 * database by up to the TTL.
 */
@Component
class UserCache {

    private final RedisCache cache;
    private final UserNearCache near;
    private final CacheSettings settings;

    UserCache(RedisCache cache, UserNearCache near, CacheSettings settings) {
        this.cache = cache;
        this.near = near;
        this.settings = settings;
    }

    /** From this replica's memory, else Redis, else {@code load}. */
    Mono<User> byId(long id, Mono<User> load) {
        return near.byId(id, Mono.defer(
                () -> cache.getOrLoad(idKey(id), User.class, settings.userTtl(), load, UserCache::hasRoles)));
    }

    Mono<User> byEmail(String email, Mono<User> load) {
        return cache.getOrLoad(emailKey(email), User.class, settings.userByEmailTtl(), load, UserCache::hasRoles);
    }

    /** A user cached by a release before roles existed is a miss, replaced at once by a fresh read. */
    private static boolean hasRoles(User user) {
        return user.roles() != null;
    }

    /**
     * Forgets a user under every key it may be cached under, here and in Redis. Here twice: at once,
     * and again once Redis has deleted its copy, so a near-cache miss that read the old copy from
     * Redis in between is not kept.
     */
    Mono<Void> evict(long id, String... emails) {
        near.evict(id);
        String[] keys = new String[emails.length + 1];
        keys[0] = idKey(id);
        for (int i = 0; i < emails.length; i++) {
            keys[i + 1] = emailKey(emails[i]);
        }
        return cache.delete(keys).then(Mono.fromRunnable(() -> near.evict(id)));
    }

    String idKey(long id) {
        return cache.key(settings.userKey().replace("{id}", Long.toString(id)));
    }

    String emailKey(String email) {
        return cache.key(settings.userByEmailKey().replace("{email}", email));
    }
}
