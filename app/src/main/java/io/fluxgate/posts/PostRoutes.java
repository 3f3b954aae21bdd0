package io.fluxgate.posts;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.springframework.web.reactive.function.server.RouterFunctions.route;

@Configuration(proxyBeanMethods = false)
class PostRoutes {

    @Bean
    RouterFunction<ServerResponse> postRouter(PostHandler posts) {
        return route().path("/api/posts", builder -> builder
                        .GET("", posts::list)
                        .POST("", posts::create)
                        .GET("/{id}", posts::get)
                        .PATCH("/{id}", posts::update)
                        .DELETE("/{id}", posts::delete))
                .build();
    }
}
