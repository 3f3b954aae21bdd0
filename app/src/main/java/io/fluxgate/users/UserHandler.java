package io.fluxgate.users;

import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.fluxgate.security.Caller;
import io.fluxgate.web.ApiException;
import io.fluxgate.web.Cursors;
import io.fluxgate.web.FieldViolation;
import io.fluxgate.web.KeysetPage;
import io.fluxgate.web.QueryParams;
import io.fluxgate.web.RequestValidator;
import reactor.core.publisher.Mono;

import org.springframework.core.ParameterizedTypeReference;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;

/** HTTP in and out for {@code /api/auth} and {@code /api/users}: parse, validate, call the service, answer. */
@Component
class UserHandler {

    static final List<String> ORDER_FIELDS = List.of("id", "name", "email", "createdAt", "lastActive");
    static final int MAX_BATCH = 1000;
    private static final ParameterizedTypeReference<List<UserRequests.Register>> BATCH =
            new ParameterizedTypeReference<>() { };

    private final UserService users;
    private final RequestValidator validator;

    UserHandler(UserService users, RequestValidator validator) {
        this.users = users;
        this.validator = validator;
    }

    Mono<ServerResponse> register(ServerRequest request) {
        return validator.body(request, UserRequests.Register.class)
                .flatMap(body -> users.register(body, request.remoteAddress().orElse(null)))
                .flatMap(user -> ServerResponse.created(URI.create("/api/users/" + user.id())).bodyValue(user));
    }

    Mono<ServerResponse> login(ServerRequest request) {
        return validator.body(request, UserRequests.Login.class)
                .flatMap(body -> users.login(body, request.remoteAddress().orElse(null)))
                .flatMap(result -> ServerResponse.ok().bodyValue(
                        new LoginResponse(result.token().token(), result.token().expiresAt(), result.user())));
    }

    record LoginResponse(String token, Instant expiresAt, User user) {
    }

    Mono<ServerResponse> list(ServerRequest request) {
        String orderBy = QueryParams.oneOf(request, "orderBy", "id", ORDER_FIELDS);
        String order = QueryParams.oneOf(request, "order", "asc", List.of("asc", "desc"));
        int limit = QueryParams.intParam(request, "limit", 50, 1, 100);
        int offset = QueryParams.intParam(request, "offset", 0, 0, Integer.MAX_VALUE);
        return users.list(orderBy, order.equals("desc"), limit, offset)
                .flatMap(page -> ServerResponse.ok().bodyValue(page));
    }

    Mono<ServerResponse> page(ServerRequest request) {
        long after = request.queryParam("after").map(cursor -> Cursors.decode(cursor, "after")).orElse(0L);
        int limit = QueryParams.intParam(request, "limit", 50, 1, 100);
        return users.pageAfter(after, limit).collectList()
                .map(rows -> KeysetPage.of(rows, limit, user -> Cursors.encode(user.id())))
                .flatMap(page -> ServerResponse.ok().bodyValue(page));
    }

    Mono<ServerResponse> get(ServerRequest request) {
        return users.get(QueryParams.id(request, "id")).flatMap(user -> ServerResponse.ok().bodyValue(user));
    }

    Mono<ServerResponse> byEmail(ServerRequest request) {
        return users.getByEmail(QueryParams.required(request, "email"))
                .flatMap(user -> ServerResponse.ok().bodyValue(user));
    }

    Mono<ServerResponse> update(ServerRequest request) {
        long id = QueryParams.id(request, "id");
        return Mono.zip(Caller.of(request), validator.body(request, UserRequests.Patch.class))
                .flatMap(both -> users.update(both.getT1(), id, both.getT2()))
                .flatMap(user -> ServerResponse.ok().bodyValue(user));
    }

    Mono<ServerResponse> setRoles(ServerRequest request) {
        long id = QueryParams.id(request, "id");
        return Mono.zip(Caller.of(request), validator.body(request, UserRequests.Roles.class))
                .flatMap(both -> users.setRoles(both.getT1(), id, both.getT2().roles()))
                .flatMap(user -> ServerResponse.ok().bodyValue(user));
    }

    Mono<ServerResponse> delete(ServerRequest request) {
        long id = QueryParams.id(request, "id");
        return Caller.of(request)
                .flatMap(caller -> users.delete(caller, id))
                .then(ServerResponse.noContent().build());
    }

    Mono<ServerResponse> active(ServerRequest request) {
        int limit = QueryParams.intParam(request, "limit", 50, 1, 100);
        return users.active(limit).collectList().flatMap(list -> ServerResponse.ok().bodyValue(list));
    }

    Mono<ServerResponse> stats(ServerRequest request) {
        return users.stats().flatMap(stats -> ServerResponse.ok().bodyValue(stats));
    }

    Mono<ServerResponse> importBatch(ServerRequest request) {
        return request.bodyToMono(BATCH)
                .switchIfEmpty(Mono.error(() -> ApiException.badRequest("Request body is required")))
                .flatMap(this::validBatch)
                .flatMap(users::importAll)
                .flatMap(inserted -> ServerResponse.status(201).bodyValue(Map.of("inserted", inserted)));
    }

    private Mono<List<UserRequests.Register>> validBatch(List<UserRequests.Register> rows) {
        if (rows.isEmpty() || rows.size() > MAX_BATCH) {
            return Mono.error(ApiException.badRequest("A batch holds 1 to " + MAX_BATCH + " users"));
        }
        List<FieldViolation> errors = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i) == null) {
                errors.add(new FieldViolation("[" + i + "]", "Must be an object"));
            } else {
                errors.addAll(validator.violations(rows.get(i), "[" + i + "]."));
            }
        }
        return errors.isEmpty() ? Mono.just(rows) : Mono.error(ApiException.invalid(errors));
    }
}
