package io.fluxgate.posts;

import java.net.URI;

import io.fluxgate.security.Caller;
import io.fluxgate.web.Cursors;
import io.fluxgate.web.KeysetPage;
import io.fluxgate.web.QueryParams;
import io.fluxgate.web.RequestValidator;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;

@Component
class PostHandler {

    private final PostService posts;
    private final RequestValidator validator;

    PostHandler(PostService posts, RequestValidator validator) {
        this.posts = posts;
        this.validator = validator;
    }

    Mono<ServerResponse> create(ServerRequest request) {
        return Mono.zip(Caller.of(request), validator.body(request, PostRequests.Create.class))
                .flatMap(both -> posts.create(both.getT1(), both.getT2()))
                .flatMap(post -> ServerResponse.created(URI.create("/api/posts/" + post.id())).bodyValue(post));
    }

    Mono<ServerResponse> get(ServerRequest request) {
        return posts.get(QueryParams.id(request, "id")).flatMap(post -> ServerResponse.ok().bodyValue(post));
    }

    /** Newest first; {@code after} is the cursor of the last post already seen. */
    Mono<ServerResponse> list(ServerRequest request) {
        long before = request.queryParam("after").map(cursor -> Cursors.decode(cursor, "after")).orElse(Long.MAX_VALUE);
        Long authorId = QueryParams.optionalId(request, "authorId");
        int limit = QueryParams.intParam(request, "limit", 50, 1, 100);
        return posts.pageBefore(before, authorId, limit).collectList()
                .map(rows -> KeysetPage.of(rows, limit, post -> Cursors.encode(post.id())))
                .flatMap(page -> ServerResponse.ok().bodyValue(page));
    }

    Mono<ServerResponse> update(ServerRequest request) {
        long id = QueryParams.id(request, "id");
        return Mono.zip(Caller.of(request), validator.body(request, PostRequests.Patch.class))
                .flatMap(both -> posts.update(both.getT1(), id, both.getT2()))
                .flatMap(post -> ServerResponse.ok().bodyValue(post));
    }

    Mono<ServerResponse> delete(ServerRequest request) {
        long id = QueryParams.id(request, "id");
        return Caller.of(request)
                .flatMap(caller -> posts.delete(caller, id))
                .then(ServerResponse.noContent().build());
    }

}
