package io.fluxgate.users;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.springframework.web.reactive.function.server.RouterFunctions.route;

@Configuration(proxyBeanMethods = false)
class UserRoutes {

    @Bean
    RouterFunction<ServerResponse> authRouter(UserHandler users) {
        return route()
                .POST("/api/auth/register", users::register)
                .POST("/api/auth/login", users::login)
                .build();
    }

    @Bean
    RouterFunction<ServerResponse> userRouter(UserHandler users) {
        // Fixed paths before /{id} so "page" or "stats" is never read as an id.
        return route().path("/api/users", builder -> builder
                        .GET("", users::list)
                        .GET("/page", users::page)
                        .GET("/by-email", users::byEmail)
                        .GET("/active", users::active)
                        .GET("/stats", users::stats)
                        .POST("/batch", users::importBatch)
                        .GET("/{id}", users::get)
                        .PATCH("/{id}", users::update)
                        .PUT("/{id}/roles", users::setRoles)
                        .DELETE("/{id}", users::delete))
                .build();
    }
}
