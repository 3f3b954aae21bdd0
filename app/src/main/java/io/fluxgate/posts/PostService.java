package io.fluxgate.posts;

import io.fluxgate.security.Caller;
import io.fluxgate.web.ApiException;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Service;

/** Posts belong to their author: only the author or an admin may change or delete one. */
@Service
class PostService {

    private final PostRepository posts;

    PostService(PostRepository posts) {
        this.posts = posts;
    }

    Mono<Post> create(Caller caller, PostRequests.Create request) {
        return posts.insert(caller.id(), request.title(), request.body());
    }

    Mono<Post> get(long id) {
        return posts.findById(id).switchIfEmpty(Mono.error(() -> ApiException.notFound("Post not found")));
    }

    Flux<Post> pageBefore(long beforeId, Long authorId, int limit) {
        return posts.pageBefore(beforeId, authorId, limit);
    }

    Mono<Post> update(Caller caller, long id, PostRequests.Patch patch) {
        if (patch.isEmpty()) {
            return Mono.error(ApiException.badRequest("Send at least one of title or body"));
        }
        return owned(caller, id).then(posts.update(id, patch.title(), patch.body()))
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("Post not found")));
    }

    Mono<Void> delete(Caller caller, long id) {
        return owned(caller, id).then(posts.delete(id)).then();
    }

    /** Completes when the post exists and the caller may modify it. */
    private Mono<Post> owned(Caller caller, long id) {
        return get(id).flatMap(post -> caller.mayModify(post.authorId())
                ? Mono.just(post)
                : Mono.error(ApiException.forbidden("Only the author or an admin may change this post")));
    }
}
