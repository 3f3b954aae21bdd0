package io.fluxgate.security;

import java.util.List;

import org.springframework.security.oauth2.server.resource.authentication.JwtAuthenticationToken;
import org.springframework.web.reactive.function.server.ServerRequest;
import reactor.core.publisher.Mono;

/** The authenticated user behind a request, as the verified token says. */
public record Caller(long id, boolean admin) {

    public static Mono<Caller> of(ServerRequest request) {
        return request.principal()
                .cast(JwtAuthenticationToken.class)
                .map(Caller::fromToken);
    }

    public static Caller fromToken(JwtAuthenticationToken token) {
        List<String> roles = token.getToken().getClaimAsStringList(TokenService.ROLES_CLAIM);
        return new Caller(Long.parseLong(token.getToken().getSubject()),
                roles != null && roles.contains(TokenService.ADMIN));
    }

    /** True when this caller may change or delete what {@code ownerId} owns. */
    public boolean mayModify(long ownerId) {
        return admin || id == ownerId;
    }
}
