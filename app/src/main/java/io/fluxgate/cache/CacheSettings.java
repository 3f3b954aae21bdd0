package io.fluxgate.cache;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Cache and write-behind settings ({@code fluxgate.cache.*}); the Redis server itself is
 * {@code spring.data.redis.*} ({@code SPRING_DATA_REDIS_HOST}, {@code _PORT}, {@code _PASSWORD},
 * {@code _SSL_ENABLED}, {@code _TIMEOUT}).
 *
 * @param enabled false turns cached reads off (every read goes to the database); the write-behind
 *        queue keeps working
 * @param keyPrefix prepended to every key this service writes
 * @param readTimeout a cache read slower than this counts as a miss (and an error)
 * @param writeTimeout a cache write or invalidation slower than this is abandoned (and counted)
 * @param userTtl how long a user stays cached by id
 * @param userByEmailTtl how long a user stays cached by email
 * @param userKey key of a user by id; {@code {id}} is replaced
 * @param userByEmailKey key of a user by email; {@code {email}} is replaced
 * @param writeBehind the write-behind queue
 * @param near the in-process near cache of users in front of Redis (see users/UserNearCache)
 */
@ConfigurationProperties("fluxgate.cache")
public record CacheSettings(
        boolean enabled,
        String keyPrefix,
        Duration readTimeout,
        Duration writeTimeout,
        Duration userTtl,
        Duration userByEmailTtl,
        String userKey,
        String userByEmailKey,
        WriteBehind writeBehind,
        @DefaultValue Near near) {

    /**
     * @param maxUsers users kept in each replica's memory; 0 turns the near cache off
     * @param ttl longest a user stays there; changes evict it sooner, through the change stream
     */
    public record Near(@DefaultValue("10000") int maxUsers, @DefaultValue("30s") Duration ttl) {
    }

    /**
     * @param flushInterval how often pending writes are applied to PostgreSQL
     * @param maxAttempts a batch that fails this many times in a row goes to the dead letters
     * @param maxBackoff longest wait between attempts of a failing batch
     * @param gatherInterval frequent writes (lastActive) are gathered in memory this long and handed
     *        to Redis together; a crash loses at most this much of them
     */
    public record WriteBehind(Duration flushInterval, int maxAttempts, Duration maxBackoff,
            @DefaultValue("1s") Duration gatherInterval) {
    }
}
