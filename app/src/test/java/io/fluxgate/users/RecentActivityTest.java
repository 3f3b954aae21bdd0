package io.fluxgate.users;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Optional;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.TcpProxy;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Activity gathered in memory reaches the database through Redis, and a hand-over Redis refuses loses
 * nothing: the notes wait for the next one. Hand-overs are made by the test alone (a long interval).
 */
@DirtiesContext // its Redis proxy is gone afterwards; nobody else should share this context
@TestPropertySource(properties = "fluxgate.cache.write-behind.gather-interval=1h")
class RecentActivityTest extends IntegrationTest {

    static final TcpProxy REDIS = TcpProxy.to(6379);

    @DynamicPropertySource
    static void redisThroughTheProxy(DynamicPropertyRegistry registry) {
        registry.add("spring.data.redis.port", REDIS::port);
    }

    @AfterAll
    static void closeProxy() {
        REDIS.close();
    }

    @Autowired
    RecentActivity activity;

    @Autowired
    DatabaseClient db;

    @Test
    void notesRefusedByRedisWaitForTheNextHandOverAndThenReachTheDatabase() {
        Account user = newUser("Seen While Redis Was Down");
        REDIS.stop();
        Instant seenFrom = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        get(user, "/api/users/{id}", user.id()).exchange().expectStatus().isOk();
        assertThat(activity.noted(Long.toString(user.id()))).isTrue();
        assertThat(activity.handOver().block(Duration.ofSeconds(10))).as("Redis refused the hand-over").isFalse();
        assertThat(activity.noted(Long.toString(user.id()))).as("kept for the next hand-over").isTrue();

        REDIS.start();
        // The first commands after the outage may still fail while the client reconnects.
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> Boolean.TRUE.equals(activity.handOver().block(Duration.ofSeconds(10))));
        assertThat(activity.noted(Long.toString(user.id()))).isFalse();
        // The write-behind worker applies it: the request made during the outage is the user's lastActive.
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> {
            Optional<OffsetDateTime> lastActive = lastActive(user.id());
            return lastActive.isPresent() && !lastActive.get().toInstant().isBefore(seenFrom);
        });
    }

    private Optional<OffsetDateTime> lastActive(long id) {
        return db.sql("SELECT last_active FROM users WHERE id = $1").bind(0, id)
                .map(row -> Optional.ofNullable(row.get("last_active", OffsetDateTime.class)))
                .one().block(Duration.ofSeconds(10));
    }
}
