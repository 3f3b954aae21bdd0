package io.fluxgate.users;

import java.util.Map;

import io.fluxgate.web.KeysetPage;
import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static io.fluxgate.web.ApiDocs.doc;
import static org.springframework.web.reactive.function.server.RequestPredicates.path;

@Configuration(proxyBeanMethods = false)
class UserRoutes {

    private static final String TAG = "users";

    @Bean
    RouterFunction<ServerResponse> authRouter(UserHandler users) {
        return SpringdocRouteBuilder.route()
                .POST("/api/auth/register", users::register, doc("auth", "register", "Create a user (never an admin)")
                        .open().body(UserRequests.Register.class).created(User.class).errors(409, 429))
                .POST("/api/auth/login", users::login, doc("auth", "login", "A bearer token for an email and password")
                        .open().body(UserRequests.Login.class).ok(UserHandler.LoginResponse.class).errors(401, 429))
                .build();
    }

    @Bean
    RouterFunction<ServerResponse> userRouter(UserHandler users) {
        // Fixed paths before /{id} so "page" or "stats" is never read as an id.
        // One prefix check skips the group for every other path.
        return SpringdocRouteBuilder.route().nest(path("/api/users"), () -> SpringdocRouteBuilder.route()
                .GET("", users::list, doc(TAG, "listUsers", "Users, an offset page at a time")
                        .query("orderBy", "id, name, email, createdAt or lastActive").query("order", "asc or desc")
                        .query("limit", "1..100, default 50").query("offset", "default 0")
                        .ok(UserService.OffsetPage.class).errors(400))
                .GET("/page", users::page, doc(TAG, "pageUsers", "Users by id, a keyset page at a time")
                        .query("after", "nextCursor of the previous page").query("limit", "1..100, default 50")
                        .ok(KeysetPage.class).errors(400))
                .GET("/by-email", users::byEmail, doc(TAG, "getUserByEmail", "One user by email address")
                        .requiredQuery("email", "the address").ok(User.class).errors(400, 404))
                .GET("/active", users::active, doc(TAG, "activeUsers", "Users most recently active")
                        .query("limit", "1..100, default 50").okList(User.class).errors(400))
                .GET("/stats", users::stats, doc(TAG, "userStats", "Counts and inactivity by status")
                        .ok(Map.class))
                .POST("/batch", users::importBatch, doc(TAG, "importUsers", "Insert up to 1,000 users at once")
                        .admin().bodyList(UserRequests.Register.class).answers(201, "Inserted: {inserted: n}", Map.class)
                        .errors(409, 413))
                .GET("/{id}", users::get, doc(TAG, "getUser", "One user")
                        .pathId("id").ok(User.class).errors(400, 404))
                .PATCH("/{id}", users::update, doc(TAG, "updateUser", "Change a user (the user or an admin)")
                        .pathId("id").body(UserRequests.Patch.class).ok(User.class).errors(403, 404, 409))
                .PUT("/{id}/roles", users::setRoles, doc(TAG, "setUserRoles", "Replace a user's roles")
                        .admin().pathId("id").body(UserRequests.Roles.class).ok(User.class).errors(404))
                .DELETE("/{id}", users::delete, doc(TAG, "deleteUser", "Delete a user (the user or an admin)")
                        .pathId("id").noContent().errors(400, 403, 404))
                .build())
                .build();
    }
}
