package io.fluxgate.cache;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

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
        WriteBehind writeBehind) {

    /**
     * @param flushInterval how often pending writes are applied to PostgreSQL
     * @param maxAttempts a batch that fails this many times in a row goes to the dead letters
     * @param maxBackoff longest wait between attempts of a failing batch
     */
    public record WriteBehind(Duration flushInterval, int maxAttempts, Duration maxBackoff) {
    }
}
