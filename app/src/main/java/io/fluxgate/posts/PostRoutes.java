package io.fluxgate.posts;

import io.fluxgate.web.KeysetPage;
import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static io.fluxgate.web.ApiDocs.doc;
import static org.springframework.web.reactive.function.server.RequestPredicates.path;

@Configuration(proxyBeanMethods = false)
class PostRoutes {

    private static final String TAG = "posts";

    @Bean
    RouterFunction<ServerResponse> postRouter(PostHandler posts) {
        // One prefix check skips the group for every other path.
        return SpringdocRouteBuilder.route().nest(path("/api/posts"), () -> SpringdocRouteBuilder.route()
                .GET("", posts::list, doc(TAG, "listPosts", "Posts, newest first, a keyset page at a time")
                        .query("after", "nextCursor of the previous page").query("authorId", "only this author's posts")
                        .query("limit", "1..100, default 50").ok(KeysetPage.class).errors(400))
                .POST("", posts::create, doc(TAG, "createPost", "A post by the caller")
                        .body(PostRequests.Create.class).created(Post.class))
                .GET("/{id}", posts::get, doc(TAG, "getPost", "One post")
                        .pathId("id").ok(Post.class).errors(400, 404))
                .PATCH("/{id}", posts::update, doc(TAG, "updatePost", "Change a post (its author or an admin)")
                        .pathId("id").body(PostRequests.Patch.class).ok(Post.class).errors(403, 404))
                .DELETE("/{id}", posts::delete, doc(TAG, "deletePost", "Delete a post (its author or an admin)")
                        .pathId("id").noContent().errors(400, 403, 404))
                .build())
                .build();
    }
}
