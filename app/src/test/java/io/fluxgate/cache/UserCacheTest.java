package io.fluxgate.cache;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.fluxgate.support.Instances;
import io.fluxgate.support.IntegrationTest;
import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The cache, the cached user reads and the write-behind queue, on the real local Redis. The near cache
 * in front of Redis is off here, so every cached read is Redis's; UserNearCacheTest covers it.
 */
@SuppressWarnings("unchecked")
@TestPropertySource(properties = "fluxgate.cache.near.max-users=0")
class UserCacheTest extends IntegrationTest {

    @Autowired
    RedisCache cache;

    @Autowired
    WriteBehind writeBehind;

    @Autowired
    ReactiveStringRedisTemplate redis;

    @Autowired
    DatabaseClient db;

    @Autowired
    MeterRegistry meters;

    @Autowired
    CacheSettings settings;

    @Autowired
    Environment environment;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    private String name(Account user) {
        return get(user, "/api/users/{id}", user.id()).exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody().get("name").toString();
    }

    @Test
    void theSecondReadComesFromRedis() {
        Account user = newUser("Cached");
        double hits = meters.counter("fluxgate.cache.hits").count();
        assertThat(name(user)).isEqualTo("Cached");
        // Behind the cache's back: the cached copy still answers.
        db.sql("UPDATE users SET name = 'Changed Behind' WHERE id = $1").bind(0, user.id()).fetch().rowsUpdated().block();
        assertThat(name(user)).isEqualTo("Cached");
        assertThat(meters.counter("fluxgate.cache.hits").count()).isGreaterThan(hits);
        String cached = redis.opsForValue().get(cache.key("user:" + user.id())).block();
        assertThat(cached).contains("\"email\"").doesNotContain("password").doesNotContain("$2a$");
    }

    /**
     * What the previous release cached has no roles: it is a miss, replaced by a fresh read at once
     * (otherwise every read would go to PostgreSQL until the old entry expired, up to 30 minutes).
     */
    @Test
    void aUserCachedWithoutRolesIsReplacedOnTheNextRead() {
        Account user = newUser("Old Format");
        String key = cache.key("user:" + user.id());
        redis.opsForValue().set(key, "{\"id\":" + user.id() + ",\"name\":\"Old Format\",\"email\":\"" + user.email()
                + "\",\"status\":\"active\"}", java.time.Duration.ofMinutes(30)).block();
        get(user, "/api/users/{id}", user.id()).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.roles[0]").isEqualTo("USER");
        assertThat(redis.opsForValue().get(key).block()).contains("\"roles\":[\"USER\"]");
    }

    @Test
    void updatesAndDeletesInvalidate() {
        Account user = newUser("Before");
        assertThat(name(user)).isEqualTo("Before");
        client.patch().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("name", "After"))
                .exchange().expectStatus().isOk();
        assertThat(name(user)).isEqualTo("After");
        client.delete().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .exchange().expectStatus().isNoContent();
        Account other = newUser("Other");
        get(other, "/api/users/{id}", user.id()).exchange().expectStatus().isNotFound();
        get(other, "/api/users/by-email?email={email}", user.email()).exchange().expectStatus().isNotFound();
    }

    @Test
    void anEmailChangeInvalidatesTheOldEmailsKey() {
        Account user = newUser("Mover");
        get(user, "/api/users/by-email?email={email}", user.email()).exchange().expectStatus().isOk();
        String newEmail = uniqueEmail("moved");
        client.patch().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("email", newEmail))
                .exchange().expectStatus().isOk();
        get(user, "/api/users/by-email?email={email}", user.email()).exchange().expectStatus().isNotFound();
        get(user, "/api/users/by-email?email={email}", newEmail).exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.id").isEqualTo(user.id());
    }

    @Test
    void cachedUsersExpireAsConfigured() {
        Account user = newUser("Timed");
        name(user);
        get(user, "/api/users/by-email?email={email}", user.email()).exchange().expectStatus().isOk();
        Duration byId = redis.getExpire(cache.key("user:" + user.id())).block();
        Duration byEmail = redis.getExpire(cache.key("user:email:" + user.email())).block();
        assertThat(byId).isBetween(settings.userTtl().minusSeconds(10), settings.userTtl());
        assertThat(byEmail).isBetween(settings.userByEmailTtl().minusSeconds(10), settings.userByEmailTtl());
        assertThat(settings.userTtl()).isEqualTo(Duration.ofMinutes(30));
        assertThat(settings.userByEmailTtl()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void invalidatingATagRemovesEveryTaggedKey() {
        String a = cache.key("tagged:a:" + System.nanoTime());
        String b = cache.key("tagged:b:" + System.nanoTime());
        String c = cache.key("tagged:c:" + System.nanoTime());
        cache.setWithTags(a, Map.of("v", 1), Duration.ofMinutes(1), List.of("team-1")).block();
        cache.setWithTags(b, Map.of("v", 2), Duration.ofMinutes(1), List.of("team-1", "team-2")).block();
        cache.setWithTags(c, Map.of("v", 3), Duration.ofMinutes(1), List.of("team-2")).block();
        assertThat(redis.getExpire(cache.key("tag:team-1")).block()).isGreaterThan(Duration.ofMinutes(1));
        cache.invalidateTag("team-1").block();
        assertThat(redis.hasKey(a).block()).isFalse();
        assertThat(redis.hasKey(b).block()).isFalse();
        assertThat(redis.hasKey(cache.key("tag:team-1")).block()).isFalse();
        assertThat((Map<String, Object>) cache.get(c, Map.class).block()).containsEntry("v", 3);
    }

    @Test
    void writeThroughStoresWhatItLoads() {
        String key = cache.key("through:" + System.nanoTime());
        Map<String, Integer> loaded = cache.writeThrough(key, Duration.ofMinutes(1),
                reactor.core.publisher.Mono.just(Map.of("n", 7))).block();
        assertThat(loaded).containsEntry("n", 7);
        assertThat((Map<String, Object>) cache.get(key, Map.class).block()).containsEntry("n", 7);
    }

    @Test
    void activityIsCoalescedIntoFarFewerUpdatesThanRequests() {
        Account user = newUser("Busy");
        Instant before = lastActive(user.id());
        double flushes = meters.counter("fluxgate.writebehind.flushes").count();
        double rows = meters.counter("fluxgate.writebehind.rows").count();
        for (int i = 0; i < 40; i++) {
            get(user, "/api/users/stats").exchange().expectStatus().isOk();
        }
        await(() -> lastActive(user.id()).isAfter(before));
        double flushed = meters.counter("fluxgate.writebehind.flushes").count() - flushes;
        double applied = meters.counter("fluxgate.writebehind.rows").count() - rows;
        assertThat(flushed).as("UPDATE statements for 40 requests").isBetween(1.0, 10.0);
        assertThat(applied).as("rows written for one busy user").isLessThanOrEqualTo(flushed);
    }

    @Test
    void aTemporaryDatabaseFailureIsRetriedThenApplied() {
        Account user = newUser("Patient");
        Instant before = lastActive(user.id());
        double failures = meters.counter("fluxgate.writebehind.failures").count();
        db.sql("ALTER TABLE users RENAME COLUMN last_active TO last_active_away").fetch().rowsUpdated().block();
        try {
            writeBehind.enqueue(ActivityType.NAME, Long.toString(user.id()),
                    Long.toString(System.currentTimeMillis())).block();
            await(() -> meters.counter("fluxgate.writebehind.failures").count() > failures);
        } finally {
            db.sql("ALTER TABLE users RENAME COLUMN last_active_away TO last_active").fetch().rowsUpdated().block();
        }
        await(() -> lastActive(user.id()).isAfter(before));
        // The applied batch is removed right after its UPDATE succeeded (a later flush may briefly
        // move newer touches aside again, so this waits for a moment with nothing in flight).
        await(() -> !redis.hasKey(writeBehind.key(ActivityType.NAME, "processing")).block());
    }

    @Test
    void writesLeftByAStoppedInstanceAreAppliedByTheNextOne() {
        Account user = newUser("Orphan");
        Instant before = lastActive(user.id());
        // What an instance that died mid-flush leaves behind: a batch moved aside but not applied.
        long seen = System.currentTimeMillis() + 60_000;
        redis.opsForHash().put(writeBehind.key(ActivityType.NAME, "processing"), Long.toString(user.id()),
                Long.toString(seen)).block();
        try (ConfigurableApplicationContext next = Instances.start(environment, postgresConnectionOptions, Map.of())) {
            await(() -> lastActive(user.id()).isAfter(before));
        }
        assertThat(lastActive(user.id())).isEqualTo(Instant.ofEpochMilli(seen));
    }

    private Instant lastActive(long id) {
        return db.sql("SELECT last_active FROM users WHERE id = $1").bind(0, id)
                .map(row -> row.get("last_active", Instant.class)).one().block();
    }

    private static void await(java.util.function.BooleanSupplier condition) {
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(condition::getAsBoolean);
    }

    /** The write-behind type of user activity, as the users feature registers it. */
    static final class ActivityType {
        static final String NAME = "user-last-active";
    }
}
