package io.fluxgate.users;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import io.fluxgate.security.PasswordHasher;
import io.fluxgate.security.Placeholders;
import io.fluxgate.security.SecurityProperties;
import io.fluxgate.web.Constraints;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * The bootstrap admin ({@code fluxgate.security.bootstrap-admin.*}): at start-up, before readiness
 * turns UP, the user of that address is created with the ADMIN role, or reset to that password, the
 * ADMIN role and active status. Nothing is written when it already is all of that, so restarts leave
 * no trace in the change stream. A configuration that is wrong stops start-up; a database that is not
 * there yet does not: the service starts (not ready) and keeps trying in the background.
 */
@Component
class BootstrapAdmin implements ApplicationRunner, DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(BootstrapAdmin.class);
    private static final Duration FIRST_TRY = Duration.ofSeconds(15);
    static final String NAME = "Administrator";

    private final SecurityProperties.BootstrapAdmin settings;
    private final UserRepository users;
    private final PasswordHasher passwords;
    private final UserCache cache;
    private final Environment environment;
    private volatile Disposable retrying;

    BootstrapAdmin(SecurityProperties properties, UserRepository users, PasswordHasher passwords, UserCache cache,
            Environment environment) {
        this.settings = properties.bootstrapAdmin();
        this.users = users;
        this.passwords = passwords;
        this.cache = cache;
        this.environment = environment;
    }

    @Override
    public void run(ApplicationArguments args) {
        if (!settings.configured()) {
            if (!settings.password().isEmpty()) {
                log.warn("A bootstrap admin password is set but no email (FLUXGATE_SECURITY_BOOTSTRAP_ADMIN_EMAIL): "
                        + "no bootstrap admin is set up");
            }
            return;
        }
        String email = Constraints.normalizeEmail(settings.email());
        String problem = problemWith(email, settings.password());
        if (problem != null) {
            throw new IllegalStateException("fluxgate.security.bootstrap-admin (FLUXGATE_SECURITY_BOOTSTRAP_ADMIN_EMAIL, "
                    + "FLUXGATE_SECURITY_BOOTSTRAP_ADMIN_PASSWORD): " + problem);
        }
        Mono<Void> attempt = ensure(email, settings.password());
        try {
            attempt.block(FIRST_TRY);
        } catch (RuntimeException notYet) {
            log.warn("Bootstrap admin {} not in place yet ({}); retrying in the background", email, notYet.toString());
            retrying = attempt.retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofSeconds(1)).maxBackoff(Duration.ofSeconds(30)))
                    .subscribe(done -> { }, failed -> log.error("Bootstrap admin {} could not be set up", email, failed));
        }
    }

    @Override
    public void destroy() {
        Disposable pending = retrying;
        if (pending != null) {
            pending.dispose();
        }
    }

    /** What is wrong with the configured admin, or null. */
    private String problemWith(String email, String password) {
        if (email == null || !Constraints.isEmailAddress(email)) {
            return "the email is missing or not a valid address";
        }
        int bytes = password.getBytes(StandardCharsets.UTF_8).length;
        if (password.length() < 8 || bytes > 72) {
            return "the password must be 8 to 72 bytes";
        }
        if (Placeholders.looksLikePlaceholder(password) && !Placeholders.isDevProfile(environment)) {
            return "the password is an example or placeholder value; set a real one from a secret";
        }
        return null;
    }

    Mono<Void> ensure(String email, String password) {
        return users.findCredentials(email)
                .flatMap(existing -> passwords.matches(password, existing.passwordHash())
                        .map(same -> same && existing.roles().contains("ADMIN") && "active".equals(existing.status())))
                .defaultIfEmpty(false)
                .flatMap(current -> current ? Mono.fromRunnable(() -> log.info("Bootstrap admin {} is in place", email))
                        : passwords.hash(password)
                                .flatMap(hash -> users.upsertAdmin(NAME, email, hash))
                                .doOnNext(admin -> log.info("Bootstrap admin {} (user {}) created or reset", email, admin.id()))
                                .flatMap(admin -> cache.evict(admin.id(), email)))
                .then();
    }
}
