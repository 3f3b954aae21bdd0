package io.fluxgate.security;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.fluxgate.web.ApiException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.security.crypto.bcrypt.BCryptPasswordEncoder;
import org.springframework.stereotype.Component;

/**
 * bcrypt, never on a Netty event loop, in two bounded lanes so no client can queue minutes of CPU
 * and nothing a signed-in user does can crowd out signing in:
 * <ul>
 * <li>sign-in (login, registration): one thread per core, at most
 * {@code fluxgate.security.hashing.queue} hashes waiting; past that a request answers 503 at once;</li>
 * <li>data (profile passwords, user batches, profile bulk writes): its own thread(s), half the cores
 * at most, so it always leaves logins a core; a request reserves every hash it will need before it
 * starts, out of {@code fluxgate.security.hashing.data-queue}, or answers 503.</li>
 * </ul>
 */
@Component
public class PasswordHasher implements DisposableBean {

    static final Duration RETRY_AFTER = Duration.ofSeconds(2);

    private final BCryptPasswordEncoder encoder;
    private final ThreadPoolExecutor signIn;
    private final ThreadPoolExecutor data;
    private final Scheduler signInScheduler;
    private final Scheduler dataScheduler;
    private final Semaphore dataBudget;
    /** Compared against when the email is unknown, so a miss costs as much as a wrong password. */
    private final String decoyHash;

    public PasswordHasher(SecurityProperties properties, MeterRegistry registry) {
        this.encoder = new BCryptPasswordEncoder(properties.bcryptCost());
        int cores = Runtime.getRuntime().availableProcessors();
        this.signIn = lane("bcrypt", cores, new ArrayBlockingQueue<>(Math.max(1, properties.hashing().queue())));
        // The data budget bounds this queue; it is never the one that refuses.
        this.data = lane("bcrypt-data", Math.max(1, cores / 2), new LinkedBlockingQueue<>());
        this.signInScheduler = Schedulers.fromExecutorService(signIn, "bcrypt");
        this.dataScheduler = Schedulers.fromExecutorService(data, "bcrypt-data");
        this.dataBudget = new Semaphore(properties.hashing().dataQueue());
        this.decoyHash = encoder.encode("decoy-password-never-matches");
        Gauge.builder("fluxgate.bcrypt.queued", signIn, pool -> pool.getQueue().size())
                .description("Sign-in password hashes waiting for a thread").register(registry);
        Gauge.builder("fluxgate.bcrypt.data.reserved", dataBudget,
                        budget -> properties.hashing().dataQueue() - budget.availablePermits())
                .description("Password hashes reserved for data writes and not yet done").register(registry);
    }

    private static ThreadPoolExecutor lane(String name, int threads, BlockingQueue<Runnable> queue) {
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = task -> {
            Thread thread = new Thread(task, name + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        return new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, queue, factory,
                new ThreadPoolExecutor.AbortPolicy());
    }

    /** One hash for a registration, on the sign-in lane; 503 when its queue is full. */
    public Mono<String> hash(String rawPassword) {
        return onSignInLane(Mono.fromCallable(() -> encoder.encode(rawPassword)));
    }

    /** Checks a password against a stored hash; a null hash runs the decoy and answers false. */
    public Mono<Boolean> matches(String rawPassword, String storedHash) {
        return onSignInLane(Mono.fromCallable(() -> check(rawPassword, storedHash)));
    }

    /** One hash for data (a profile's password), on the data lane; 503 when its budget is spent. */
    public Mono<String> hashForData(String rawPassword) {
        return hashAll(List.of(rawPassword)).map(hashes -> hashes.get(0));
    }

    /**
     * Hashes for one request, in order, on the data lane. All of them are reserved up front: a
     * request that would take the lane past its bound answers 503 before any work starts.
     */
    public Mono<List<String>> hashAll(List<String> rawPasswords) {
        int count = rawPasswords.size();
        return Mono.defer(() -> {
            if (count == 0) {
                return Mono.just(List.<String>of());
            }
            if (!dataBudget.tryAcquire(count)) {
                return Mono.error(busy("Too many passwords are being hashed; try again later"));
            }
            // Given back before the caller hears the result, so a caller that got it may reserve again.
            AtomicBoolean reserved = new AtomicBoolean(true);
            Runnable release = () -> {
                if (reserved.getAndSet(false)) {
                    dataBudget.release(count);
                }
            };
            return Flux.fromIterable(rawPasswords)
                    .concatMap(raw -> Mono.fromCallable(() -> encoder.encode(raw)).subscribeOn(dataScheduler))
                    .collectList()
                    .doOnTerminate(release)
                    .doOnCancel(release);
        });
    }

    private <T> Mono<T> onSignInLane(Mono<T> work) {
        return work.subscribeOn(signInScheduler)
                .onErrorMap(RejectedExecutionException.class,
                        full -> busy("Too many requests are waiting for password hashing; try again shortly"));
    }

    private static ApiException busy(String detail) {
        return ApiException.unavailable(detail, RETRY_AFTER);
    }

    private boolean check(String rawPassword, String storedHash) {
        try {
            if (storedHash == null) {
                encoder.matches(rawPassword, decoyHash);
                return false;
            }
            return encoder.matches(rawPassword, storedHash);
        } catch (IllegalArgumentException tooLong) {
            // bcrypt refuses passwords over 72 bytes; none can have been stored, so it cannot match.
            return false;
        }
    }

    @Override
    public void destroy() {
        signInScheduler.dispose();
        dataScheduler.dispose();
    }
}
