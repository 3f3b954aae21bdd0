package io.fluxgate.profiles;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.springframework.web.reactive.function.server.RouterFunctions.route;

@Configuration(proxyBeanMethods = false)
class ProfileRoutes {

    @Bean
    RouterFunction<ServerResponse> profileRouter(ProfileHandler profiles) {
        // Fixed paths before /{id} so "search" or "top" is never read as an id.
        return route().path("/api/profiles", builder -> builder
                        .GET("", profiles::list)
                        .POST("", profiles::create)
                        .GET("/search", profiles::search)
                        .GET("/near", profiles::near)
                        .GET("/active", profiles::active)
                        .GET("/stats", profiles::stats)
                        .GET("/top", profiles::top)
                        .POST("/bulk", profiles::bulk)
                        .POST("/with-account", profiles::createWithAccount)
                        .GET("/{id}", profiles::get)
                        .PATCH("/{id}", profiles::update)
                        .DELETE("/{id}", profiles::delete))
                .build();
    }
}
