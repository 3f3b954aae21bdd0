package io.fluxgate.web;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Numbers and shapes JSON allows but no field means, on every JSON surface: exponents past the double
 * range, numbers past 64 bits, tiny exponents, text that reads as a number, nesting thousands deep.
 * REST answers 400 problem+json and changes nothing; a change-stream session answers an error frame
 * and lives on; the event stream answers 400 before it opens.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileJsonTest extends IntegrationTest {

    /** Numbers that are valid JSON and valid for no numeric field here. */
    private static final String[] ODD_NUMBERS = {"1e999", "-1e999", "1e99999999", "99999999999999999999999",
            "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"1e3\"", "[1]", "{\"n\":1}"};
    private static final String DEEP = "[".repeat(5_000) + "]".repeat(5_000);

    @LocalServerPort
    int port;

    private Account user;
    private Account admin;

    @BeforeAll
    void accounts() {
        user = newUser("Json Bomber");
        admin = admin();
    }

    static Stream<Arguments> numericFields() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (String odd : ODD_NUMBERS) {
            cases.add(Arguments.of("POST", "/api/transfers", "{\"toUserId\":" + odd + ",\"amount\":\"1.00\"}", false));
            cases.add(Arguments.of("POST", "/api/transfers", "{\"toUserId\":1,\"amount\":" + odd + "}", false));
            cases.add(Arguments.of("POST", "/api/accounts/1/deposit", "{\"amount\":" + odd + "}", true));
            cases.add(Arguments.of("PATCH", "/api/profiles/000000000000000000000000",
                    "{\"location\":{\"lng\":" + odd + ",\"lat\":1}}", false));
        }
        // A fraction is not an id: refused, not rounded down to someone's.
        cases.add(Arguments.of("POST", "/api/transfers", "{\"toUserId\":1.5,\"amount\":\"1.00\"}", false));
        cases.add(Arguments.of("PUT", "/api/users/SELF/roles", "{\"roles\":[\"USER\",1e999]}", true));
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("numericFields")
    void anOddNumberInABodyIsA400(String method, String path, String body, boolean asAdmin) {
        client.method(HttpMethod.valueOf(method)).uri(path.replace("SELF", Long.toString(user.id())))
                .header(HttpHeaders.AUTHORIZATION, (asAdmin ? admin : user).bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
    }

    @ParameterizedTest
    @ValueSource(strings = {"/api/posts", "/api/transfers", "/api/auth/register", "/api/profiles", "/api/users/batch"})
    void aBodyNestedThousandsDeepIsA400(String path) {
        String body = path.endsWith("batch") ? DEEP : "{\"title\":" + DEEP + "}";
        client.post().uri(path).header(HttpHeaders.AUTHORIZATION, admin.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON);
    }

    static Stream<String> oddFilters() {
        return Stream.of("{\"id\":{\"eq\":1e999}}", "{\"id\":{\"eq\":-1e999}}", "{\"id\":{\"gt\":1e999}}",
                "{\"id\":{\"lte\":-1e99999999}}", "{\"id\":{\"in\":[1,1e999]}}", "{\"id\":{\"neq\":1e999}}",
                "{\"id\":{\"eq\":" + "9".repeat(1_001) + "}}",
                "{\"not\":".repeat(9) + "{\"id\":{\"eq\":1}}" + "}".repeat(9),
                "{\"and\":" + "[".repeat(3_000) + "]".repeat(3_000) + "}");
    }

    @ParameterizedTest
    @MethodSource("oddFilters")
    void anOddFilterIsAnErrorFrameAndTheSessionLivesOn(String filter) {
        try (WsClient socket = WsClient.connect(port, user.token())) {
            socket.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"ovf0\",\"filter\":" + filter + "}");
            JsonNode answer = socket.next();
            assertThat(answer.path("type").asString()).isEqualTo("error");
            assertThat(answer.path("error").asString()).isIn("Invalid filter", "Invalid message format");
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asString()).as("the session lives on").isEqualTo("pong");
            socket.subscribe("post_changes");
        }
    }

    /** Large but finite numbers and numeric-looking text are ordinary filters: they subscribe. */
    @ParameterizedTest
    @ValueSource(strings = {"{\"id\":{\"eq\":99999999999999999999999}}", "{\"id\":{\"eq\":\"NaN\"}}",
            "{\"id\":{\"lt\":\"Infinity\"}}", "{\"id\":{\"gt\":1e300}}", "{\"id\":{\"eq\":1e-300}}",
            "{\"id\":{\"eq\":1e-99999999}}"})
    void largeButFiniteFiltersSubscribe(String filter) {
        try (WsClient socket = WsClient.connect(port, user.token())) {
            socket.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"id\":\"big\",\"filter\":" + filter + "}");
            assertThat(socket.next().path("type").asString()).isEqualTo("subscribed");
        }
    }

    @Test
    void aFrameNestedThousandsDeepIsAnErrorFrame() {
        try (WsClient socket = WsClient.connect(port, user.token())) {
            socket.send("{\"type\":\"subscribe\",\"channel\":\"post_changes\",\"columns\":" + DEEP + "}");
            assertThat(socket.next().path("error").asString()).isEqualTo("Invalid message format");
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asString()).isEqualTo("pong");
        }
    }

    /** Those that fit in a URL. */
    static Stream<String> oddFiltersInAUrl() {
        return oddFilters().filter(filter -> filter.length() < 1_500);
    }

    @ParameterizedTest
    @MethodSource("oddFiltersInAUrl")
    void anOddFilterOnTheEventStreamIsA400(String filter) {
        String query = "/api/changes/stream?channel=post_changes&filter="
                + URLEncoder.encode(filter, StandardCharsets.UTF_8);
        client.get().uri(java.net.URI.create("http://localhost:" + port + query))
                .header(HttpHeaders.AUTHORIZATION, user.bearer())
                .exchange()
                .expectStatus().isBadRequest()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("filter");
    }
}
