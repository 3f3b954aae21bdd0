package io.fluxgate.security;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.springframework.security.oauth2.jose.jws.MacAlgorithm;
import org.springframework.security.oauth2.jwt.JwsHeader;
import org.springframework.security.oauth2.jwt.JwtClaimsSet;
import org.springframework.security.oauth2.jwt.JwtEncoder;
import org.springframework.security.oauth2.jwt.JwtEncoderParameters;
import org.springframework.stereotype.Service;

/**
 * Issues HS256 access tokens: {@code sub} is the user id, {@code roles} the roles the user holds in
 * the database at login, {@code ver} its token version (see {@link TokenRevocation}).
 */
@Service
public class TokenService {

    public static final String USER = "USER";
    public static final String ADMIN = "ADMIN";
    /** Every role there is; USER is held by everyone. */
    public static final List<String> ROLES = List.of(USER, ADMIN);
    static final String ROLES_CLAIM = "roles";
    static final String VERSION_CLAIM = "ver";

    private final JwtEncoder encoder;
    private final SecurityProperties properties;

    public TokenService(JwtEncoder encoder, SecurityProperties properties) {
        this.encoder = encoder;
        this.properties = properties;
    }

    public IssuedToken issue(long userId, List<String> roles, long tokenVersion) {
        return issue(userId, roles, tokenVersion, properties.tokenTtl());
    }

    /** A token that lives {@code ttl} instead of the configured lifetime. */
    public IssuedToken issue(long userId, List<String> roles, long tokenVersion, Duration ttl) {
        Instant now = Instant.now();
        Instant expiresAt = now.plus(ttl);
        JwtClaimsSet claims = JwtClaimsSet.builder()
                .issuer(properties.issuer())
                .subject(Long.toString(userId))
                .issuedAt(now)
                .expiresAt(expiresAt)
                .claim(ROLES_CLAIM, List.copyOf(roles))
                .claim(VERSION_CLAIM, tokenVersion)
                .build();
        String token = encoder.encode(JwtEncoderParameters.from(JwsHeader.with(MacAlgorithm.HS256).build(), claims))
                .getTokenValue();
        return new IssuedToken(token, expiresAt);
    }

    public record IssuedToken(String token, Instant expiresAt) {
    }
}
