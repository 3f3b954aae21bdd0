package io.fluxgate.users;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.fluxgate.cache.CacheSettings;
import io.fluxgate.cache.PeriodicTask;
import io.fluxgate.cache.WriteBehind;
import reactor.core.publisher.Mono;

import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * The users seen since the last hand-over, with the latest time each was seen. Every
 * {@code fluxgate.cache.write-behind.gather-interval} the whole set goes to the write-behind queue in
 * one Redis command, so a busy user costs one map write per request instead of a network round trip.
 * What a crash can lose is the last interval's notes (lastActive only; the user's next request notes
 * it again); a shutdown hands over what is left after the last request has finished. While Redis
 * refuses a hand-over the notes stay here (one entry per user seen) and go with the next one.
 */
@Component
class RecentActivity implements SmartLifecycle {

    private final WriteBehind writeBehind;
    private final Map<String, String> seen = new ConcurrentHashMap<>();
    private final PeriodicTask worker;

    RecentActivity(WriteBehind writeBehind, CacheSettings settings) {
        this.writeBehind = writeBehind;
        this.worker = new PeriodicTask(settings.writeBehind().gatherInterval(), this::handOver);
    }

    void seen(String userId, long millis) {
        // Requests of one user race only to store nearly the same time; either is as good.
        seen.put(userId, Long.toString(millis));
    }

    /** Whether the user was seen since the last hand-over. */
    boolean noted(String userId) {
        return seen.containsKey(userId);
    }

    /** Hands what was gathered to the write-behind queue; completes when Redis has it (or refused it). */
    Mono<Boolean> handOver() {
        Map<String, String> batch = new HashMap<>(seen);
        // Removed only where unchanged: a user seen again meanwhile stays for the next hand-over.
        batch.forEach(seen::remove);
        // Redis is down or slow, or the hand-over was cancelled by a shutdown: the notes stay for the
        // next one (a newer note of the same user wins).
        return writeBehind.enqueueAll(ActivityTracking.TYPE, batch)
                .doOnNext(accepted -> {
                    if (!accepted) {
                        batch.forEach(seen::putIfAbsent);
                    }
                })
                .doOnCancel(() -> batch.forEach(seen::putIfAbsent));
    }

    @Override
    public void start() {
        worker.start();
    }

    /** After the shutdown gate has let the last request finish, and before write-behind's last flush. */
    @Override
    public void stop() {
        worker.stop();
        handOver().block(Duration.ofSeconds(5));
    }

    @Override
    public boolean isRunning() {
        return worker.isRunning();
    }

    @Override
    public int getPhase() {
        // WriteBehind stops at DEFAULT_PHASE - 200: a higher phase stops before it.
        return SmartLifecycle.DEFAULT_PHASE - 190;
    }
}
