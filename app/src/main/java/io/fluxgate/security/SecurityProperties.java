package io.fluxgate.security;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Token, password and abuse-limit settings ({@code fluxgate.security.*}, {@code FLUXGATE_SECURITY_*}).
 *
 * @param jwtSecret HS256 signing secret, at least 32 bytes; required outside the dev profile
 * @param tokenTtl how long an issued token stays valid
 * @param issuer the {@code iss} claim written and required
 * @param bcryptCost bcrypt work factor for new password hashes
 * @param bootstrapAdmin the admin created (or reset) at start-up
 * @param revocationCheckInterval how long a user's checked standing is trusted: suspension, deletion
 *        and role removal stop that user's tokens within this interval (plus a second on WebSockets)
 * @param hashing bounds of the bcrypt work queues
 * @param throttle failed-login and registration limits
 * @param verifiedTokens tokens whose signature check is remembered (until each expires), so a client's
 *        next request with the same token skips it; 0 verifies every request
 */
@ConfigurationProperties("fluxgate.security")
public record SecurityProperties(
        @DefaultValue("") String jwtSecret,
        Duration tokenTtl,
        String issuer,
        int bcryptCost,
        @DefaultValue BootstrapAdmin bootstrapAdmin,
        Duration revocationCheckInterval,
        Hashing hashing,
        Throttle throttle,
        @DefaultValue("10000") long verifiedTokens) {

    /**
     * @param email the bootstrap admin's address; empty for none
     * @param password its password (from a secret), 8 to 72 bytes
     */
    public record BootstrapAdmin(@DefaultValue("") String email, @DefaultValue("") String password) {

        /** An admin is set up only with an address; a password alone is ignored (and logged). */
        public boolean configured() {
            return !email.isBlank();
        }

        @Override
        public String toString() {
            return "BootstrapAdmin[email=" + email + ", password=[redacted]]";
        }
    }

    /**
     * @param queue hashes of sign-in requests (login, registration) that may wait for a hashing
     *        thread; past it those requests answer 503
     * @param dataQueue hashes of data writes (profile passwords, user batches, profile bulk writes)
     *        that may be outstanding in all, on their own thread; a request reserves all of its
     *        hashes before it starts, and one that does not fit answers 503
     */
    public record Hashing(int queue, int dataQueue) {
    }

    /**
     * @param loginAttemptsPerEmail login attempts for one email from one client address within the
     *        window that did not succeed; past it, 429 until the window ends (a success clears it)
     * @param loginAttemptsPerEmailOverall the same for one email from all addresses together: high
     *        enough that locking someone out takes many addresses, low enough to stop a spread guess
     * @param loginAttemptsPerAddress login attempts from one client address, for any emails
     * @param registrationsPerAddress registrations from one client address within the window
     * @param window the counting window
     */
    public record Throttle(int loginAttemptsPerEmail, int loginAttemptsPerEmailOverall, int loginAttemptsPerAddress,
            int registrationsPerAddress, Duration window) {
    }
}
