package io.fluxgate.security;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.security.crypto.bcrypt.BCryptPasswordEncoder;
import org.springframework.stereotype.Component;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * bcrypt on its own bounded scheduler: hashing costs hundreds of milliseconds of CPU and must never
 * run on a Netty event loop. One thread per core keeps a burst of logins from starving the rest.
 */
@Component
public class PasswordHasher implements DisposableBean {

    private final BCryptPasswordEncoder encoder;
    private final Scheduler scheduler;
    /** Compared against when the email is unknown, so a miss costs as much as a wrong password. */
    private final String decoyHash;

    public PasswordHasher(SecurityProperties properties) {
        this.encoder = new BCryptPasswordEncoder(properties.bcryptCost());
        int threads = Runtime.getRuntime().availableProcessors();
        this.scheduler = Schedulers.newBoundedElastic(threads, 100_000, "bcrypt");
        this.decoyHash = encoder.encode("decoy-password-never-matches");
    }

    public Mono<String> hash(String rawPassword) {
        return Mono.fromCallable(() -> encoder.encode(rawPassword)).subscribeOn(scheduler);
    }

    /** Checks a password against a stored hash; a null hash runs the decoy and answers false. */
    public Mono<Boolean> matches(String rawPassword, String storedHash) {
        return Mono.fromCallable(() -> check(rawPassword, storedHash)).subscribeOn(scheduler);
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
        scheduler.dispose();
    }
}
