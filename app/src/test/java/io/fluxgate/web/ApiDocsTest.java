package io.fluxgate.web;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.springdoc.core.service.OpenAPIService;
import reactor.core.publisher.Mono;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ApplicationContext;
import org.springframework.core.io.Resource;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.test.util.ReflectionTestUtils;
import org.springframework.web.reactive.function.server.HandlerFunction;
import org.springframework.web.reactive.function.server.RequestPredicate;
import org.springframework.web.reactive.function.server.RequestPredicates;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerRequest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The OpenAPI document covers every route the application registers, so a new route cannot go
 * undocumented; and each operation says what it answers, errors included.
 */
class ApiDocsTest extends IntegrationTest {

    /** Routes that are pages and files, not REST: the console and the JavaScript client. */
    private static final Set<String> NOT_REST = Set.of("GET /console", "GET /client/fluxgate.js");

    @Autowired
    ApplicationContext context;

    @Test
    void everyRegisteredRouteIsInTheDocumentWithItsAnswers() {
        Set<String> routes = new TreeSet<>();
        for (RouterFunction<?> router : context.getBeansOfType(RouterFunction.class).values()) {
            routes.addAll(RouteCollector.routesOf(router));
        }
        routes.removeAll(NOT_REST);
        assertThat(routes).as("the collector sees the application's routes").hasSizeGreaterThan(35)
                .contains("GET /api/posts/{id}", "GET /api/admin/changes/explain", "GET /api/changes/stream");

        JsonNode document = client.get().uri("/v3/api-docs").exchange().expectStatus().isOk()
                .expectBody(JsonNode.class).returnResult().getResponseBody();
        Set<String> documented = new TreeSet<>();
        document.path("paths").properties().forEach(path -> path.getValue().properties()
                .forEach(operation -> documented.add(operation.getKey().toUpperCase() + " " + path.getKey())));
        assertThat(documented).as("documented operations").containsAll(routes);

        for (String route : routes) {
            String[] methodAndPath = route.split(" ", 2);
            JsonNode operation = document.path("paths").path(methodAndPath[1]).path(methodAndPath[0].toLowerCase());
            assertThat(operation.path("operationId").asString()).as("%s has an id", route).isNotBlank();
            JsonNode responses = operation.path("responses");
            assertThat(responses.propertyNames()).as("%s has a success answer", route)
                    .anyMatch(status -> status.startsWith("2"));
            assertThat(responses.propertyNames()).as("%s may answer 503", route).contains("503");
            responses.properties().stream().filter(answer -> answer.getKey().matches("[45]\\d\\d"))
                    .forEach(error -> assertThat(error.getValue().path("content").path("application/problem+json")
                            .path("schema").path("$ref").asString()).as("%s %s is a problem", route, error.getKey())
                            .isEqualTo("#/components/schemas/Problem"));
            // Every operation says who may call it; a public one with an empty list.
            assertThat(operation.path("security").isArray()).as("%s declares its security", route).isTrue();
            boolean open = operation.path("security").isEmpty();
            if (!open) {
                assertThat(responses.propertyNames()).as("%s may answer 401", route).contains("401");
            } else {
                // Published as public: it is, for a caller without a token.
                int status = client.method(org.springframework.http.HttpMethod.valueOf(methodAndPath[0]))
                        .uri(methodAndPath[1].replaceAll("\\{[^}]+}", "1"))
                        .contentType(org.springframework.http.MediaType.APPLICATION_JSON).bodyValue("{}")
                        .exchange().returnResult(Void.class).getStatus().value();
                assertThat(status).as("%s answers a caller without a token", route).isNotIn(401, 403);
            }
            if (methodAndPath[1].startsWith("/api/admin/")) {
                assertThat(open).as("%s needs a token", route).isFalse();
                assertThat(responses.propertyNames()).as("%s may answer 403", route).contains("403");
            }
        }
        assertThat(document.path("components").path("schemas").path("Problem").path("properties").propertyNames())
                .contains("type", "title", "status", "detail", "instance", "errors");
        assertThat(document.path("paths").path("/api/posts").path("post").path("requestBody").path("content")
                .path("application/json").path("schema").path("$ref").asString())
                .isEqualTo("#/components/schemas/NewPost");
    }

    @Test
    void everyCallerGetsTheOneDocumentWhateverItsLanguageOrHost(@Autowired OpenAPIService documents) {
        byte[] plain = apiDocs(null, null);
        assertThat(apiDocs("fr-FR", null)).isEqualTo(plain);
        assertThat(apiDocs("zz-ZZ, x-1;q=0.5", "attacker.example")).isEqualTo(plain);
        Map<?, ?> cached = (Map<?, ?>) ReflectionTestUtils.getField(documents, "cachedOpenAPI");
        assertThat(cached).as("one document built and kept, not one per language").hasSize(1);
        JsonNode document = client.get().uri("/v3/api-docs").exchange().expectBody(JsonNode.class)
                .returnResult().getResponseBody();
        assertThat(document.path("servers").get(0).path("url").asString()).as("no caller's Host in it").isEqualTo("/");
        assertThat(document.path("components").path("schemas").path("Plan").path("properties").path("plan")
                .path("type").asString()).as("free-form JSON is an object").isEqualTo("object");
        JsonNode explain = document.path("paths").path("/api/admin/changes/explain").path("get").path("parameters");
        assertThat(explain).extracting(parameter -> parameter.path("required").asBoolean()).containsOnly(true);
    }

    private byte[] apiDocs(String language, String host) {
        return client.get().uri("/v3/api-docs").headers(headers -> {
                    if (language != null) {
                        headers.set(HttpHeaders.ACCEPT_LANGUAGE, language);
                    }
                    if (host != null) {
                        headers.set(HttpHeaders.HOST, host);
                    }
                }).exchange().expectStatus().isOk()
                .expectBody().returnResult().getResponseBody();
    }

    @Test
    void swaggerUiIsServedFromTheJarWithoutAToken() {
        String location = client.get().uri("/swagger-ui.html").exchange().expectStatus().is3xxRedirection()
                .returnResult(Void.class).getResponseHeaders().getLocation().toString();
        client.get().uri(location).exchange().expectStatus().isOk();
    }

    /** Every "METHOD /path" a router function answers, nested paths joined. */
    static final class RouteCollector implements RouterFunctions.Visitor {

        private final Deque<String> prefixes = new ArrayDeque<>();
        private final List<String> routes = new ArrayList<>();

        static List<String> routesOf(RouterFunction<?> router) {
            RouteCollector collector = new RouteCollector();
            router.accept(collector);
            return collector.routes;
        }

        @Override
        public void startNested(RequestPredicate predicate) {
            prefixes.push(prefix() + Matched.of(predicate).path);
        }

        @Override
        public void endNested(RequestPredicate predicate) {
            prefixes.pop();
        }

        @Override
        public void route(RequestPredicate predicate, HandlerFunction<?> handler) {
            Matched matched = Matched.of(predicate);
            assertThat(matched.methods).as("route %s names its methods", predicate).isNotEmpty();
            matched.methods.forEach(method -> routes.add(method.name() + " " + prefix() + matched.path));
        }

        @Override
        public void resources(Function<ServerRequest, Mono<Resource>> lookup) {
            // Static files (the console's scripts and styles): not REST.
        }

        @Override
        public void attributes(Map<String, Object> attributes) {
        }

        @Override
        public void unknown(RouterFunction<?> router) {
            throw new AssertionError("A router function the collector cannot see into: " + router);
        }

        private String prefix() {
            return prefixes.isEmpty() ? "" : prefixes.peek();
        }
    }

    /** The methods and path a request predicate matches. */
    private static final class Matched implements RequestPredicates.Visitor {

        private final Set<HttpMethod> methods = new HashSet<>();
        private String path = "";

        static Matched of(RequestPredicate predicate) {
            Matched matched = new Matched();
            predicate.accept(matched);
            return matched;
        }

        @Override
        public void method(Set<HttpMethod> matching) {
            methods.addAll(matching);
        }

        @Override
        public void path(String pattern) {
            path += pattern;
        }

        @Override
        public void pathExtension(String extension) {
        }

        @Override
        public void header(String name, String value) {
        }

        @Override
        public void queryParam(String name, String value) {
        }

        @Override
        public void version(String version) {
        }

        @Override
        public void startAnd() {
        }

        @Override
        public void and() {
        }

        @Override
        public void endAnd() {
        }

        @Override
        public void startOr() {
            throw new AssertionError("'or' predicates are not expected in our routes");
        }

        @Override
        public void or() {
        }

        @Override
        public void endOr() {
        }

        @Override
        public void startNegate() {
        }

        @Override
        public void endNegate() {
        }

        @Override
        public void unknown(RequestPredicate predicate) {
            throw new AssertionError("A predicate the collector cannot read: " + predicate);
        }
    }
}
