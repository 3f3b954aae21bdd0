package io.fluxgate.security;

import java.time.Instant;
import java.util.List;

import reactor.core.publisher.Mono;

import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.reactive.function.server.ServerRequest;

/**
 * The authenticated user behind a request, as the verified token says.
 *
 * @param tokenVersion the user's token version when the token was issued; a later version revokes it
 * @param expiresAt when the token stops being valid
 */
public record Caller(long id, boolean admin, long tokenVersion, Instant expiresAt) {

    static final long NO_VERSION = -1;

    public static Mono<Caller> of(ServerRequest request) {
        return request.principal()
                .cast(JwtAuthenticationToken.class)
                .map(Caller::fromToken);
    }

    public static Caller fromToken(JwtAuthenticationToken token) {
        return fromJwt(token.getToken());
    }

    public static Caller fromJwt(Jwt jwt) {
        List<String> roles = jwt.getClaimAsStringList(TokenService.ROLES_CLAIM);
        Object version = jwt.getClaims().get(TokenService.VERSION_CLAIM);
        // A token without a version (issued before versions existed) matches no user's: it never holds.
        return new Caller(Long.parseLong(jwt.getSubject()), roles != null && roles.contains(TokenService.ADMIN),
                version instanceof Number number ? number.longValue() : NO_VERSION, jwt.getExpiresAt());
    }

    /** True when this caller may change or delete what {@code ownerId} owns. */
    public boolean mayModify(long ownerId) {
        return admin || id == ownerId;
    }

    public boolean isExpiredAt(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }
}
