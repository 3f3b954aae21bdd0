package io.fluxgate.users;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.fluxgate.cache.RedisCache;
import io.fluxgate.changes.capture.ChangeListener;
import io.fluxgate.changes.hub.ChangeHub;
import io.fluxgate.support.Instances;
import io.fluxgate.support.IntegrationTest;
import io.r2dbc.spi.ConnectionFactoryOptions;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Schedulers;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.env.Environment;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.web.reactive.server.WebTestClient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The in-memory user cache in front of Redis: evicted by the change stream when another replica
 * changes a user, bypassed while the listener is down, and never stale for the client that just
 * changed the user. Its TTL (30 s) is far longer than any wait here, so only eviction can pass these.
 */
class UserNearCacheTest extends IntegrationTest {

    private static final Duration EVICTED_WITHIN = Duration.ofSeconds(5);

    @Autowired
    UserNearCache near;

    @Autowired
    ChangeHub hub;

    @Autowired
    RedisCache cache;

    @Autowired
    ReactiveStringRedisTemplate redis;

    @Autowired
    DatabaseClient db;

    @Autowired
    ApplicationContext context;

    @Autowired
    Environment environment;

    @Autowired
    ConnectionFactoryOptions postgresConnectionOptions;

    @Test
    void aChangeOnAnotherReplicaEvictsThisReplicasCopy() {
        Account user = newUser("Near One");
        assertThat(name(client, user)).isEqualTo("Near One");
        readUntilHeld(user);
        try (ConfigurableApplicationContext other = Instances.start(environment, postgresConnectionOptions, Map.of())) {
            WebTestClient there = WebTestClient.bindToServer().baseUrl("http://localhost:" + Instances.portOf(other))
                    .build();
            rename(there, user, "Renamed Elsewhere").expectStatus().isOk();
        }
        await().atMost(EVICTED_WITHIN).untilAsserted(() -> assertThat(name(client, user)).isEqualTo("Renamed Elsewhere"));
    }

    @Test
    void whileTheListenerIsDownReadsGoToRedisAndPostgres() {
        Account user = newUser("Near Two");
        assertThat(name(client, user)).isEqualTo("Near Two");
        readUntilHeld(user);
        SmartLifecycle listener = changeListener();
        listener.stop();
        try {
            // What another replica does: change the row, drop the Redis copy. This replica's listener
            // is not there to hear it, so its memory must not be trusted.
            db.sql("UPDATE users SET name = 'Changed While Deaf' WHERE id = $1").bind(0, user.id())
                    .fetch().rowsUpdated().block();
            redis.delete(cache.key("user:" + user.id())).block();
            assertThat(hub.isCurrent()).isFalse();
            assertThat(name(client, user)).isEqualTo("Changed While Deaf");
            assertThat(near.holds(user.id())).as("nothing is kept while the listener is down").isFalse();
        } finally {
            listener.start();
        }
        await().atMost(Duration.ofSeconds(30)).until(hub::isCurrent);
        assertThat(name(client, user)).isEqualTo("Changed While Deaf");
        readUntilHeld(user); // trusted again once the listener has caught up
    }

    @Test
    void aReadRightAfterAChangeIsPassedOnButNotKept() {
        Account user = newUser("Near Four");
        readUntilHeld(user);
        // What the listener does when a change event arrives, here before anyone dropped the Redis
        // copy (the writing replica may not have yet): the next read gets Redis's copy, and must not
        // learn it again.
        near.evict(user.id());
        assertThat(name(client, user)).isEqualTo("Near Four");
        assertThat(near.holds(user.id())).as("read from Redis just after a change: passed on, not kept").isFalse();
        // A moment later reads are kept again.
        readUntilHeld(user);
    }

    @Test
    void anUpdateAnsweredToItsClientIsWhatItReadsNextEvenUnderConcurrentReads() {
        Account user = newUser("Near Three");
        AtomicBoolean reading = new AtomicBoolean(true);
        AtomicInteger reads = new AtomicInteger();
        // Other requests keep loading the user while it changes, so loads race with evictions.
        var readers = Flux.range(0, 4)
                .flatMap(worker -> Flux.defer(() -> client.get().uri("/api/users/{id}", user.id())
                                .header(HttpHeaders.AUTHORIZATION, user.bearer())
                                .exchange().returnResult(String.class).getResponseBody())
                        .doOnComplete(reads::incrementAndGet)
                        .repeat(reading::get)
                        .subscribeOn(Schedulers.boundedElastic()))
                .subscribe();
        try {
            for (int i = 0; i < 20; i++) {
                String name = "Version " + i;
                rename(client, user, name).expectStatus().isOk();
                assertThat(name(client, user)).as("read right after its own update answered 200").isEqualTo(name);
            }
        } finally {
            reading.set(false);
            readers.dispose();
        }
        assertThat(reads.get()).as("concurrent reads happened").isGreaterThan(0);
    }

    /**
     * Reads until this replica keeps the user in memory: for a moment after a change (registering is
     * one) reads are passed on without being kept.
     */
    private void readUntilHeld(Account user) {
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            name(client, user);
            return near.holds(user.id());
        });
    }

    private SmartLifecycle changeListener() {
        List<SmartLifecycle> found = context.getBeansOfType(SmartLifecycle.class).values().stream()
                .filter(bean -> bean.getClass().getSimpleName().equals("ChangeListener"))
                .toList();
        assertThat(found).hasSize(1);
        return found.get(0);
    }

    private static WebTestClient.ResponseSpec rename(WebTestClient on, Account user, String name) {
        return on.patch().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("name", name)).exchange();
    }

    @SuppressWarnings("unchecked")
    private static String name(WebTestClient on, Account user) {
        return on.get().uri("/api/users/{id}", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody().get("name").toString();
    }
}
