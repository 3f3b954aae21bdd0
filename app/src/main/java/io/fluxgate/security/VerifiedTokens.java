package io.fluxgate.security;

import java.time.Duration;
import java.time.Instant;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import reactor.core.publisher.Mono;

import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;

/**
 * Tokens already verified (signature, issuer, expiry), by their exact text, so a client sending the
 * same token again skips parsing and the HMAC. Only what the verifier accepted is kept, and never past
 * the token's own expiry: a cached token is exactly as valid as when it was first checked. Revocation
 * is not cached here; {@link TokenRevocation} still checks every request.
 */
final class VerifiedTokens implements ReactiveJwtDecoder {

    private final ReactiveJwtDecoder verifier;
    private final Cache<String, Jwt> verified;

    VerifiedTokens(ReactiveJwtDecoder verifier, long maxTokens) {
        this.verifier = verifier;
        this.verified = Caffeine.newBuilder()
                .maximumSize(maxTokens)
                .expireAfter(Expiry.creating((String token, Jwt jwt) -> untilExpiry(jwt)))
                .build();
    }

    @Override
    public Mono<Jwt> decode(String token) {
        Jwt known = verified.getIfPresent(token);
        if (known != null && isLive(known)) {
            return Mono.just(known);
        }
        return verifier.decode(token).doOnNext(jwt -> {
            if (isLive(jwt)) {
                verified.put(token, jwt);
            }
        });
    }

    /** Caffeine's expiry is lazy and its clock coarse, so a hit is checked against the claim as well. */
    private static boolean isLive(Jwt jwt) {
        Instant expiresAt = jwt.getExpiresAt();
        return expiresAt != null && Instant.now().isBefore(expiresAt);
    }

    private static Duration untilExpiry(Jwt jwt) {
        Instant expiresAt = jwt.getExpiresAt();
        Duration left = expiresAt == null ? Duration.ZERO : Duration.between(Instant.now(), expiresAt);
        return left.isNegative() ? Duration.ZERO : left;
    }

    /** Whether this exact token's verification is remembered (for tests). */
    boolean remembers(String token) {
        return verified.getIfPresent(token) != null;
    }

    long size() {
        verified.cleanUp();
        return verified.estimatedSize();
    }
}
