package io.fluxgate.profiles;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

import io.fluxgate.security.Caller;
import io.fluxgate.web.ApiException;
import io.fluxgate.web.FieldViolation;
import io.fluxgate.web.KeysetPage;
import io.fluxgate.web.QueryParams;
import io.fluxgate.web.RequestValidator;
import org.bson.types.ObjectId;
import reactor.core.publisher.Mono;

import org.springframework.core.ParameterizedTypeReference;
import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;

@Component
class ProfileHandler {

    static final int MAX_BULK = 1000;
    private static final ParameterizedTypeReference<List<ProfileRequests.BulkOperation>> BULK =
            new ParameterizedTypeReference<>() { };

    private final ProfileService profiles;
    private final RequestValidator validator;

    ProfileHandler(ProfileService profiles, RequestValidator validator) {
        this.profiles = profiles;
        this.validator = validator;
    }

    Mono<ServerResponse> create(ServerRequest request) {
        return Mono.zip(Caller.of(request), validator.body(request, ProfileRequests.Create.class))
                .flatMap(both -> profiles.create(both.getT1(), both.getT2()))
                .flatMap(view -> ServerResponse.created(URI.create("/api/profiles/" + view.id())).bodyValue(view));
    }

    Mono<ServerResponse> get(ServerRequest request) {
        return profiles.get(request.pathVariable("id")).flatMap(view -> ServerResponse.ok().bodyValue(view));
    }

    Mono<ServerResponse> update(ServerRequest request) {
        String id = ProfileService.checkedId(request.pathVariable("id"));
        return Mono.zip(Caller.of(request), validator.body(request, ProfileRequests.Patch.class))
                .flatMap(both -> profiles.update(both.getT1(), id, both.getT2()))
                .flatMap(view -> ServerResponse.ok().bodyValue(view));
    }

    Mono<ServerResponse> delete(ServerRequest request) {
        return Caller.of(request)
                .flatMap(caller -> profiles.delete(caller, request.pathVariable("id")))
                .then(ServerResponse.noContent().build());
    }

    /** Keyset pages on _id; {@code cursor} is the last id of the previous page. */
    Mono<ServerResponse> list(ServerRequest request) {
        int limit = QueryParams.intParam(request, "limit", 20, 1, 100);
        ObjectId after = request.queryParam("cursor").map(cursor -> {
            if (!ObjectId.isValid(cursor)) {
                throw ApiException.invalid("cursor", "Invalid cursor");
            }
            return new ObjectId(cursor);
        }).orElse(null);
        String status = request.queryParam("status").orElse(null);
        if (status != null && !List.of("active", "inactive", "suspended").contains(status)) {
            throw ApiException.invalid("status", "Must be one of active, inactive, suspended");
        }
        return profiles.pageAfter(after, status, limit).collectList()
                .map(rows -> KeysetPage.of(rows, limit, ProfileView::id))
                .flatMap(page -> ServerResponse.ok().bodyValue(page));
    }

    Mono<ServerResponse> search(ServerRequest request) {
        String q = QueryParams.required(request, "q");
        if (q.length() > 200) {
            throw ApiException.invalid("q", "At most 200 characters");
        }
        int limit = QueryParams.intParam(request, "limit", 20, 1, 100);
        int skip = QueryParams.intParam(request, "skip", 0, 0, 10_000);
        return profiles.search(q, skip, limit).collectList().flatMap(found -> ServerResponse.ok().bodyValue(found));
    }

    Mono<ServerResponse> near(ServerRequest request) {
        double lng = QueryParams.doubleParam(request, "lng", -180, 180);
        double lat = QueryParams.doubleParam(request, "lat", -90, 90);
        double maxDistance = request.queryParam("maxDistance").isPresent()
                ? QueryParams.doubleParam(request, "maxDistance", 0, 20_000_000) : 10_000;
        int limit = QueryParams.intParam(request, "limit", 20, 1, 100);
        return profiles.near(lng, lat, maxDistance, limit).collectList()
                .flatMap(found -> ServerResponse.ok().bodyValue(found));
    }

    Mono<ServerResponse> active(ServerRequest request) {
        int limit = QueryParams.intParam(request, "limit", 50, 1, 100);
        return profiles.active(limit).collectList().flatMap(found -> ServerResponse.ok().bodyValue(found));
    }

    Mono<ServerResponse> stats(ServerRequest request) {
        return profiles.stats().collectList().flatMap(stats -> ServerResponse.ok().bodyValue(stats));
    }

    Mono<ServerResponse> top(ServerRequest request) {
        int limit = QueryParams.intParam(request, "limit", 10, 1, 100);
        return profiles.top(limit).collectList().flatMap(top -> ServerResponse.ok().bodyValue(top));
    }

    Mono<ServerResponse> bulk(ServerRequest request) {
        return request.bodyToMono(BULK)
                .switchIfEmpty(Mono.error(() -> ApiException.badRequest("Request body is required")))
                .flatMap(this::validBulk)
                .zipWith(Caller.of(request))
                .flatMap(both -> profiles.bulk(both.getT2(), both.getT1()))
                .flatMap(counts -> ServerResponse.ok().bodyValue(counts));
    }

    private Mono<List<ProfileRequests.BulkOperation>> validBulk(List<ProfileRequests.BulkOperation> operations) {
        if (operations.isEmpty() || operations.size() > MAX_BULK) {
            return Mono.error(ApiException.badRequest("A bulk write holds 1 to " + MAX_BULK + " operations"));
        }
        List<FieldViolation> errors = new ArrayList<>();
        for (int i = 0; i < operations.size(); i++) {
            String at = "[" + i + "]";
            ProfileRequests.BulkOperation operation = operations.get(i);
            if (operation == null) {
                errors.add(new FieldViolation(at, "Must be an object"));
                continue;
            }
            errors.addAll(validator.violations(operation, at + "."));
            String op = operation.op();
            if ("insert".equals(op) && operation.profile() == null) {
                errors.add(new FieldViolation(at + ".profile", "Profile is required"));
            }
            if (("update".equals(op) || "delete".equals(op))
                    && (operation.id() == null || !ObjectId.isValid(operation.id()))) {
                errors.add(new FieldViolation(at + ".id", "Malformed id"));
            }
            if ("update".equals(op) && (operation.set() == null || operation.set().isEmpty())) {
                errors.add(new FieldViolation(at + ".set", "Send at least one field to change"));
            }
        }
        return errors.isEmpty() ? Mono.just(operations) : Mono.error(ApiException.invalid(errors));
    }

    Mono<ServerResponse> createWithAccount(ServerRequest request) {
        return Mono.zip(Caller.of(request), validator.body(request, ProfileRequests.WithAccount.class))
                .flatMap(both -> profiles.createWithAccount(both.getT1(), both.getT2()))
                .flatMap(created -> ServerResponse.status(201).bodyValue(created));
    }

}
