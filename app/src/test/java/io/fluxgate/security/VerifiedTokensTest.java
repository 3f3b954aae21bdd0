package io.fluxgate.security;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

import org.junit.jupiter.api.Test;

import org.springframework.security.oauth2.jose.jws.MacAlgorithm;
import org.springframework.security.oauth2.jwt.JwsHeader;
import org.springframework.security.oauth2.jwt.JwtClaimsSet;
import org.springframework.security.oauth2.jwt.JwtEncoderParameters;
import org.springframework.security.oauth2.jwt.JwtException;
import org.springframework.security.oauth2.jwt.JwtTimestampValidator;
import org.springframework.security.oauth2.jwt.NimbusJwtEncoder;
import org.springframework.security.oauth2.jwt.NimbusReactiveJwtDecoder;
import org.springframework.security.oauth2.jwt.ReactiveJwtDecoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The verified-token cache in front of a real Nimbus decoder: it saves the work, never the checks. */
class VerifiedTokensTest {

    private final SecretKey key = new SecretKeySpec("verified-tokens-test-secret-0123456789".getBytes(), "HmacSHA256");
    private final AtomicInteger verifications = new AtomicInteger();
    private final VerifiedTokens tokens = new VerifiedTokens(countingVerifier(), 100);

    private ReactiveJwtDecoder countingVerifier() {
        NimbusReactiveJwtDecoder nimbus = NimbusReactiveJwtDecoder.withSecretKey(key).macAlgorithm(MacAlgorithm.HS256).build();
        // No clock skew, so "expired" means expired in this test.
        nimbus.setJwtValidator(new JwtTimestampValidator(Duration.ZERO));
        return token -> {
            verifications.incrementAndGet();
            return nimbus.decode(token);
        };
    }

    private String token(Instant expiresAt, SecretKey signedWith) {
        JwtClaimsSet claims = JwtClaimsSet.builder().subject("42").issuedAt(Instant.now().minusSeconds(1))
                .expiresAt(expiresAt).build();
        return NimbusJwtEncoder.withSecretKey(signedWith).algorithm(MacAlgorithm.HS256).build()
                .encode(JwtEncoderParameters.from(JwsHeader.with(MacAlgorithm.HS256).build(), claims)).getTokenValue();
    }

    @Test
    void aTokenIsVerifiedOnceAndThenServedFromMemory() {
        String token = token(Instant.now().plusSeconds(60), key);
        for (int i = 0; i < 5; i++) {
            assertThat(tokens.decode(token).block().getSubject()).isEqualTo("42");
        }
        assertThat(verifications).hasValue(1);
        assertThat(tokens.size()).isEqualTo(1);
    }

    @Test
    void aTokenIsNotServedFromMemoryPastItsExpiry() {
        Instant expiresAt = Instant.now().plusSeconds(2);
        String token = token(expiresAt, key);
        assertThat(tokens.decode(token).block()).isNotNull();
        await().atMost(Duration.ofSeconds(10)).until(() -> Instant.now().isAfter(expiresAt));
        assertThatThrownBy(() -> tokens.decode(token).block()).isInstanceOf(JwtException.class);
        assertThat(verifications).hasValue(2);
    }

    @Test
    void rejectedTokensAreNeverRemembered() {
        SecretKey otherKey = new SecretKeySpec("someone-elses-secret-0123456789-abcdef".getBytes(), "HmacSHA256");
        String forged = token(Instant.now().plusSeconds(60), otherKey);
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> tokens.decode(forged).block()).isInstanceOf(JwtException.class);
        }
        assertThat(verifications).hasValue(3);
        assertThat(tokens.size()).isZero();
    }
}
