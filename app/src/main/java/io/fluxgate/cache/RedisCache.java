package io.fluxgate.cache;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;

/**
 * The cache. Values are JSON. Every operation is bounded by a timeout and never fails its caller:
 * a Redis that is down or slow turns reads into misses and writes into no-ops, and the errors are
 * counted ({@code fluxgate.cache.errors}). Lettuce completes commands on its I/O thread, so values
 * are parsed on the parallel scheduler.
 */
@Component
public class RedisCache {

    private static final Logger log = LoggerFactory.getLogger(RedisCache.class);

    /**
     * SET with TTL and add the key to each tag set, atomically; a tag set lives a little longer than
     * the values it names, so it never expires first and orphans a value.
     */
    private static final RedisScript<Long> SET_WITH_TAGS = RedisScript.of("""
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            local tagTtl = tonumber(ARGV[2]) + 60000
            for i = 2, #KEYS do
              redis.call('SADD', KEYS[i], KEYS[1])
              if redis.call('PTTL', KEYS[i]) < tagTtl then redis.call('PEXPIRE', KEYS[i], tagTtl) end
            end
            return 1
            """, Long.class);

    /**
     * Deletes every key of a tag and the tag set in one step: a concurrent set-with-tags runs either
     * wholly before (and is deleted) or wholly after (and is tagged afresh), never in between.
     */
    private static final RedisScript<Long> INVALIDATE_TAG = RedisScript.of("""
            local keys = redis.call('SMEMBERS', KEYS[1])
            for i = 1, #keys, 500 do
              redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
            end
            redis.call('DEL', KEYS[1])
            return #keys
            """, Long.class);

    /**
     * SET with TTL unless the key's eviction mark (KEYS[2]) is there: a cache-aside load that read the
     * database before a writer evicted the key must not store what it read after the eviction.
     */
    private static final RedisScript<Long> SET_UNLESS_EVICTED = RedisScript.of("""
            if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
            return 1
            """, Long.class);

    /** Deletes KEYS[1], KEYS[3], ... and sets each one's eviction mark (the key after it) for ARGV[1] ms. */
    private static final RedisScript<Long> EVICT = RedisScript.of("""
            for i = 1, #KEYS, 2 do
              redis.call('DEL', KEYS[i])
              redis.call('SET', KEYS[i + 1], '1', 'PX', ARGV[1])
            end
            return #KEYS / 2
            """, Long.class);

    /**
     * How long an eviction keeps cache-aside loads from storing: longer than a load takes (a
     * database read, bounded by the pools' acquire timeout, and a Redis write), so one that began
     * before the eviction cannot store the value it read before the writer's commit.
     */
    static final Duration EVICTION_MARK = Duration.ofSeconds(15);

    private final ReactiveStringRedisTemplate redis;
    private final JsonMapper json;
    private final CacheSettings settings;
    private final Counter hits;
    private final Counter misses;
    private final Counter errors;

    RedisCache(ReactiveStringRedisTemplate redis, JsonMapper json, CacheSettings settings, MeterRegistry registry) {
        this.redis = redis;
        this.json = json;
        this.settings = settings;
        this.hits = Counter.builder("fluxgate.cache.hits").register(registry);
        this.misses = Counter.builder("fluxgate.cache.misses").register(registry);
        this.errors = Counter.builder("fluxgate.cache.errors").description("Redis commands that failed or timed out")
                .register(registry);
    }

    /** The full key for a name, with the configured prefix. */
    public String key(String name) {
        return settings.keyPrefix() + name;
    }

    /** Redis's answer to PING. Unlike the cache operations, failures reach the caller: it asked about Redis. */
    public Mono<String> ping() {
        return redis.execute(connection -> connection.ping()).next();
    }

    /** The cached value, or empty on a miss, an unreadable value, or any Redis trouble. */
    public <T> Mono<T> get(String key, Class<T> type) {
        return redis.opsForValue().get(key)
                .timeout(settings.readTimeout())
                .publishOn(Schedulers.parallel())
                .map(value -> json.readValue(value, type))
                .doOnNext(value -> hits.increment())
                .switchIfEmpty(Mono.fromRunnable(misses::increment))
                .onErrorResume(error -> {
                    failed("get", error);
                    misses.increment();
                    return Mono.empty();
                });
    }

    /** Stores a value for {@code ttl}; completes either way. */
    public Mono<Void> set(String key, Object value, Duration ttl) {
        return quietly("set", () -> redis.opsForValue().set(key, json.writeValueAsString(value), ttl));
    }

    /** Stores a value and files it under each tag, atomically. */
    public Mono<Void> setWithTags(String key, Object value, Duration ttl, List<String> tags) {
        List<String> keys = new ArrayList<>();
        keys.add(key);
        tags.forEach(tag -> keys.add(tagKey(tag)));
        return quietly("setWithTags", () -> redis.execute(SET_WITH_TAGS, keys,
                List.of(json.writeValueAsString(value), Long.toString(ttl.toMillis()))).then());
    }

    /** Removes every key filed under the tag, and the tag. */
    public Mono<Void> invalidateTag(String tag) {
        return quietly("invalidateTag", () -> redis.execute(INVALIDATE_TAG, List.of(tagKey(tag)), List.of()).then());
    }

    /**
     * Deletes the keys and marks them evicted for {@link #EVICTION_MARK}: until then cache-aside loads
     * of them are served but not stored, so a load that raced the writer cannot put the old value back.
     */
    public Mono<Void> delete(String... keys) {
        List<String> marked = new ArrayList<>(keys.length * 2);
        for (String key : keys) {
            marked.add(key);
            marked.add(evictionMark(key));
        }
        return quietly("delete", () -> redis.execute(EVICT, marked, List.of(Long.toString(EVICTION_MARK.toMillis())))
                .then());
    }

    private static String evictionMark(String key) {
        return key + "#evicted";
    }

    /**
     * Write-through: stores what {@code load} produces and returns it. The load's own failures
     * propagate (they are the caller's); a cache that cannot store only costs the next read a miss.
     */
    public <T> Mono<T> writeThrough(String key, Duration ttl, Mono<T> load) {
        return load.flatMap(value -> set(key, value, ttl).thenReturn(value));
    }

    /** Cache-aside: the cached value, else {@code load}'s, which is then cached. */
    public <T> Mono<T> getOrLoad(String key, Class<T> type, Duration ttl, Mono<T> load) {
        return getOrLoad(key, type, ttl, load, value -> true);
    }

    /**
     * Cache-aside where a cached value must also pass {@code current} (say, it was written before a
     * field existed); one that does not counts as a miss and is replaced by {@code load}'s.
     */
    public <T> Mono<T> getOrLoad(String key, Class<T> type, Duration ttl, Mono<T> load, Predicate<T> current) {
        if (!settings.enabled()) {
            return load;
        }
        return get(key, type).filter(current).switchIfEmpty(Mono.defer(
                () -> load.flatMap(value -> setUnlessEvicted(key, value, ttl).thenReturn(value))));
    }

    private Mono<Void> setUnlessEvicted(String key, Object value, Duration ttl) {
        return quietly("set", () -> redis.execute(SET_UNLESS_EVICTED, List.of(key, evictionMark(key)),
                List.of(json.writeValueAsString(value), Long.toString(ttl.toMillis()))).then());
    }

    private String tagKey(String tag) {
        return key("tag:" + tag);
    }

    private Mono<Void> quietly(String operation, Supplier<Mono<?>> command) {
        return Mono.defer(command)
                .timeout(settings.writeTimeout())
                .then()
                .onErrorResume(error -> {
                    failed(operation, error);
                    return Mono.empty();
                });
    }

    private void failed(String operation, Throwable error) {
        errors.increment();
        log.debug("Cache {} failed: {}", operation, error.toString());
    }
}
