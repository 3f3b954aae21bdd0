package io.fluxgate.console;

import java.nio.file.Files;
import java.nio.file.Path;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;

import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

/** The console's files are served to anyone, with a policy that lets the page run only its own code. */
class ConsolePageTest extends IntegrationTest {

    @Test
    void thePageAndItsFilesAreServedWithoutATokenUnderAStrictPolicy() {
        client.get().uri("/console").exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith(MediaType.TEXT_HTML)
                .expectHeader().valueEquals("Content-Security-Policy", ConsoleRoutes.POLICY)
                .expectHeader().valueEquals("X-Content-Type-Options", "nosniff")
                .expectHeader().valueEquals(HttpHeaders.CACHE_CONTROL, "no-cache")
                .expectBody(String.class).value(page -> assertThat(page)
                        .contains("/console/console.js").doesNotContain("http://", "https://"));
        client.get().uri("/console/console.js").exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith("text/javascript")
                .expectHeader().valueEquals("Content-Security-Policy", ConsoleRoutes.POLICY);
        client.get().uri("/console/console.css").exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith("text/css");
    }

    @Test
    void theJavaScriptClientIsServedAsTheRepositoryHoldsItUnderTheSamePolicy() throws Exception {
        String source = Files.readString(Path.of("..", "clients", "js", "fluxgate.js"));
        client.get().uri("/client/fluxgate.js").header(HttpHeaders.ORIGIN, "https://elsewhere.example").exchange()
                .expectStatus().isOk()
                .expectHeader().contentTypeCompatibleWith("text/javascript")
                .expectHeader().valueEquals("Content-Security-Policy", ConsoleRoutes.POLICY)
                .expectHeader().valueEquals("X-Content-Type-Options", "nosniff")
                .expectHeader().valueEquals(HttpHeaders.CACHE_CONTROL, "no-cache")
                .expectHeader().doesNotExist(HttpHeaders.ACCESS_CONTROL_ALLOW_ORIGIN)
                .expectBody(String.class).isEqualTo(source);
        // Only that one file is public: anything else under /client/ is not served to anyone.
        client.get().uri("/client/other.js").exchange().expectStatus().isUnauthorized();
        client.get().uri("/client/other.js").headers(headers -> headers.setBearerAuth(newUser("Reader").token()))
                .exchange().expectStatus().isNotFound();
    }

    @Test
    void nothingOutsideTheConsoleFolderIsReachableThroughIt() {
        client.get().uri("/console/missing.js").exchange().expectStatus().isNotFound();
        client.get().uri("/console/../application.yaml").exchange().expectStatus().is4xxClientError();
        client.get().uri("/console/%2e%2e/application.yaml").exchange().expectStatus().is4xxClientError();
        client.get().uri("/console/..%2fapplication.yaml").exchange().expectStatus().is4xxClientError();
    }
}
