package io.fluxgate.console;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.ClassPathResource;
import org.springframework.core.io.Resource;
import org.springframework.http.CacheControl;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * The console: a page to sign in, subscribe and watch the change stream, served from the jar (no
 * build step, nothing fetched from elsewhere). It is public; it signs in through the API itself.
 * Its own scripts and styles only, and never framed: the policy below makes injected markup inert.
 * The JavaScript client (clients/js, which the console is built on) is served beside it, at
 * /client/fluxgate.js, with the same headers: a page of this origin imports it from here.
 */
@Configuration(proxyBeanMethods = false)
class ConsoleRoutes {

    static final String POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
            + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    private static final Resource PAGE = new ClassPathResource("console/index.html");
    private static final Resource CLIENT = new ClassPathResource("client/fluxgate.js");
    private static final MediaType JAVASCRIPT = new MediaType("text", "javascript", java.nio.charset.StandardCharsets.UTF_8);

    @Bean
    RouterFunction<ServerResponse> consoleRouter() {
        return RouterFunctions.route()
                .GET("/console", request -> ServerResponse.ok().contentType(MediaType.TEXT_HTML).bodyValue(PAGE))
                .add(RouterFunctions.resources("/console/**", new ClassPathResource("console/")))
                .GET("/client/fluxgate.js", request -> ServerResponse.ok()
                        .contentType(JAVASCRIPT).bodyValue(CLIENT))
                .filter((request, next) -> {
                    HttpHeaders headers = request.exchange().getResponse().getHeaders();
                    headers.set("Content-Security-Policy", POLICY);
                    headers.set("X-Content-Type-Options", "nosniff");
                    headers.set("Referrer-Policy", "no-referrer");
                    // Revalidated every time, so a page never runs with the script of another release.
                    headers.setCacheControl(CacheControl.noCache());
                    return next.handle(request);
                })
                .build();
    }
}
