package io.fluxgate.cache;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import org.springframework.beans.factory.annotation.Autowired;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The classic cache-aside race, on the real Redis: a reader misses and reads the database, a writer
 * commits and evicts, then the reader stores what it read. The eviction must win.
 */
class CacheAsideRaceTest extends IntegrationTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Autowired
    RedisCache cache;

    @Test
    void aLoadThatReadBeforeAnEvictionServesWhatItReadButDoesNotStoreIt() throws InterruptedException {
        String key = cache.key("race:" + System.nanoTime());
        CountDownLatch loading = new CountDownLatch(1);
        Sinks.One<String> database = Sinks.one();
        Mono<String> reader = cache.getOrLoad(key, String.class, Duration.ofMinutes(1), Mono.defer(() -> {
            loading.countDown();
            return database.asMono();
        })).cache();
        reader.subscribe();
        assertThat(loading.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the reader missed and went to the database").isTrue();

        cache.delete(key).block(WAIT); // the writer, after its commit
        database.tryEmitValue("read before the commit");

        assertThat(reader.block(WAIT)).isEqualTo("read before the commit");
        assertThat(cache.get(key, String.class).blockOptional(WAIT)).as("not stored over the eviction").isEmpty();
    }

    @Test
    void aLoadOfAKeyNobodyEvictedIsStored() {
        String key = cache.key("plain:" + System.nanoTime());
        assertThat(cache.getOrLoad(key, String.class, Duration.ofMinutes(1), Mono.just("fresh")).block(WAIT))
                .isEqualTo("fresh");
        assertThat(cache.get(key, String.class).blockOptional(WAIT)).contains("fresh");
    }
}
