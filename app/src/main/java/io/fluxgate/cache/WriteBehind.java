package io.fluxgate.cache;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.context.SmartLifecycle;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import org.springframework.stereotype.Component;

/**
 * Write-behind that loses nothing. A write is recorded in Redis first ({@code HSET} into the type's
 * pending hash: later writes to the same id replace earlier ones, which is the coalescing), and a
 * worker applies each type's pending hash to PostgreSQL as one batch per flush. The batch is moved
 * aside in Redis before it is applied and deleted only after it succeeded, so a crash or a failed
 * batch is retried (with backoff) by this or the next instance; a batch that keeps failing goes to
 * the type's dead-letter hash ({@code fluxgate.writebehind.dead.letters}).
 */
@Component
public class WriteBehind implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(WriteBehind.class);

    /** Applies one batch ({@code id -> value}) to the database, as one statement. */
    public interface BatchWriter {

        String type();

        Mono<Void> apply(Map<String, String> batch);
    }

    /** The batch in flight: the one a previous attempt left, else everything pending now. */
    private static final RedisScript<List> TAKE = RedisScript.of("""
            if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1]) == 1 then
              redis.call('RENAME', KEYS[1], KEYS[2])
            end
            return redis.call('HGETALL', KEYS[2])
            """, List.class);

    /** Moves a batch that keeps failing into the dead letters. */
    private static final RedisScript<Long> BURY = RedisScript.of("""
            local entries = redis.call('HGETALL', KEYS[1])
            for i = 1, #entries, 2 do redis.call('HSET', KEYS[2], entries[i], entries[i + 1]) end
            redis.call('DEL', KEYS[1], KEYS[3])
            return #entries / 2
            """, Long.class);

    private final ReactiveStringRedisTemplate redis;
    private final CacheSettings settings;
    private final Map<String, BatchWriter> writers = new ConcurrentHashMap<>();
    private final Map<String, Instant> retryNotBefore = new ConcurrentHashMap<>();
    private final AtomicLong pending = new AtomicLong();
    private final AtomicLong deadLetters = new AtomicLong();
    private final Counter flushes;
    private final Counter rows;
    private final Counter failures;
    private final Counter enqueueErrors;
    private final PeriodicTask worker;

    WriteBehind(ReactiveStringRedisTemplate redis, CacheSettings settings, List<BatchWriter> writers,
            MeterRegistry registry) {
        this.redis = redis;
        this.settings = settings;
        this.worker = new PeriodicTask(settings.writeBehind().flushInterval(), this::flushAll);
        writers.forEach(writer -> this.writers.put(writer.type(), writer));
        Gauge.builder("fluxgate.writebehind.pending", pending, AtomicLong::get)
                .description("Writes waiting in Redis to be applied").register(registry);
        Gauge.builder("fluxgate.writebehind.dead.letters", deadLetters, AtomicLong::get)
                .description("Writes that kept failing and were set aside").register(registry);
        flushes = Counter.builder("fluxgate.writebehind.flushes").description("Batches applied").register(registry);
        rows = Counter.builder("fluxgate.writebehind.rows").description("Writes applied").register(registry);
        failures = Counter.builder("fluxgate.writebehind.failures").description("Batch attempts that failed")
                .register(registry);
        enqueueErrors = Counter.builder("fluxgate.writebehind.enqueue.errors")
                .description("Writes that could not be recorded (Redis unavailable)").register(registry);
    }

    /** Records a write; the latest value per id wins. Completes with false when Redis is unavailable. */
    public Mono<Boolean> enqueue(String type, String id, String value) {
        return enqueueAll(type, Map.of(id, value));
    }

    /** Records many writes of one type in one command; the latest value per id wins. */
    public Mono<Boolean> enqueueAll(String type, Map<String, String> values) {
        if (values.isEmpty()) {
            return Mono.just(true);
        }
        return redis.opsForHash().putAll(key(type, "pending"), values)
                .timeout(settings.writeTimeout())
                .thenReturn(true)
                .onErrorResume(error -> {
                    enqueueErrors.increment(values.size());
                    return Mono.just(false);
                });
    }

    /** Applies what is pending for every type once; what failed stays for the next flush. */
    public Mono<Void> flushAll() {
        return Flux.fromIterable(writers.values()).concatMap(this::flush).then();
    }

    private Mono<Void> flush(BatchWriter writer) {
        String type = writer.type();
        Instant notBefore = retryNotBefore.get(type);
        if (notBefore != null && Instant.now().isBefore(notBefore)) {
            return Mono.empty();
        }
        String processing = key(type, "processing");
        return redis.execute(TAKE, List.of(key(type, "pending"), processing), List.of())
                .next()
                .map(WriteBehind::asMap)
                .filter(batch -> !batch.isEmpty())
                .flatMap(batch -> writer.apply(batch)
                        .then(redis.delete(processing, key(type, "attempts")))
                        .doOnSuccess(deleted -> {
                            retryNotBefore.remove(type);
                            flushes.increment();
                            rows.increment(batch.size());
                        })
                        .then()
                        .onErrorResume(error -> failed(type, batch.size(), error)))
                .then(refreshGauges(type))
                .onErrorResume(redisDown -> Mono.empty());
    }

    private Mono<Void> failed(String type, int size, Throwable error) {
        failures.increment();
        return redis.opsForValue().increment(key(type, "attempts")).flatMap(attempts -> {
            if (attempts >= settings.writeBehind().maxAttempts()) {
                log.error("Write-behind batch of {} '{}' writes failed {} times; moving it to the dead letters: {}",
                        size, type, attempts, error.toString());
                retryNotBefore.remove(type);
                return redis.execute(BURY, List.of(key(type, "processing"), key(type, "dead"), key(type, "attempts")),
                        List.of()).then();
            }
            Duration backoff = settings.writeBehind().flushInterval().multipliedBy(1L << Math.min(attempts - 1, 10));
            if (backoff.compareTo(settings.writeBehind().maxBackoff()) > 0) {
                backoff = settings.writeBehind().maxBackoff();
            }
            retryNotBefore.put(type, Instant.now().plus(backoff));
            log.warn("Write-behind batch of {} '{}' writes failed (attempt {}), retrying in {}: {}", size, type,
                    attempts, backoff, error.toString());
            return Mono.empty();
        });
    }

    private Mono<Void> refreshGauges(String type) {
        return Mono.zip(redis.opsForHash().size(key(type, "pending")), redis.opsForHash().size(key(type, "processing")),
                        redis.opsForHash().size(key(type, "dead")))
                .doOnNext(sizes -> {
                    pending.set(sizes.getT1() + sizes.getT2());
                    deadLetters.set(sizes.getT3());
                })
                .then();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> asMap(List<?> flat) {
        Map<String, String> batch = new java.util.LinkedHashMap<>();
        for (int i = 0; i + 1 < flat.size(); i += 2) {
            batch.put(String.valueOf(flat.get(i)), String.valueOf(flat.get(i + 1)));
        }
        return batch;
    }

    String key(String type, String part) {
        return settings.keyPrefix() + "wb:" + type + ":" + part;
    }

    @Override
    public void start() {
        worker.start();
    }

    /** Stops the worker after one last flush, so nothing waits longer than it must. */
    @Override
    public void stop() {
        worker.stop();
        retryNotBefore.clear();
        try {
            flushAll().block(Duration.ofSeconds(10));
        } catch (RuntimeException e) {
            log.warn("Final write-behind flush did not finish; the next instance will apply it: {}", e.toString());
        }
    }

    @Override
    public boolean isRunning() {
        return worker.isRunning();
    }

    @Override
    public int getPhase() {
        // Stop late: after the web server, so requests' last writes are recorded first.
        return SmartLifecycle.DEFAULT_PHASE - 200;
    }
}
