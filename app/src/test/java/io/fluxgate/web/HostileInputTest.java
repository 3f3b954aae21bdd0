package io.fluxgate.web;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a hostile client sends from outside, over real HTTP: inputs built to cost seconds of CPU,
 * bodies far over the limit, malformed URLs. Each gets a prompt problem+json answer and changes
 * nothing. (The client's 5 s response timeout is what a backtracking validator used to exceed.)
 */
class HostileInputTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Test
    void aHugeEmailBuiltToBacktrackIsRefusedAtOnce() {
        // Two overlapping runs of non-@ characters: a backtracking pattern tried every split of them
        // (quadratic: 100 kB took the old validator far longer than the client's 5 s timeout).
        String email = "a@" + "a.".repeat(50_000) + "@";
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Evil", "email", email, "password", PASSWORD))
                .exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("email")
                .jsonPath("$.errors[0].message").isEqualTo("Please provide a valid email address");
        client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("email", email, "password", PASSWORD))
                .exchange().expectStatus().isBadRequest();
    }

    @Test
    void aNinetyKilobyteAmountIsRefusedWithoutArithmetic() {
        Account user = newUser("Amount Bomb");
        Account other = newUser("Amount Target");
        String amount = "1" + "0".repeat(90_000) + "E-90000";
        client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, user.bearer())
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("toUserId", other.id(), "amount", amount))
                .exchange()
                .expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("amount");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1E+3", "1e2", "0x10", "+5", " 5 . 0", "5.", ".5", "NaN", "Infinity", "1_000"})
    void amountsMustBePlainDecimals(String amount) {
        Account user = newUser("Shapes");
        Account other = newUser("Shapes Target");
        client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, user.bearer())
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("toUserId", other.id(), "amount", amount))
                .exchange()
                .expectStatus().isBadRequest();
    }

    @Test
    void aFiveMegabyteBodyIs413ProblemJson() {
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"name\":\"" + "x".repeat(5 * 1024 * 1024) + "\"}")
                .exchange()
                .expectStatus().isEqualTo(413)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.status").isEqualTo(413)
                .jsonPath("$.detail").isEqualTo("The request body is too large");
    }

    @Test
    void aChunkedBodyOverTheLimitIs413Too() throws Exception {
        Account user = newUser("Chunked");
        String response = rawRequest("POST /api/posts HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + user.bearer()
                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                "{\"title\":\"t\",\"body\":\"" + "y".repeat(400 * 1024) + "\"}");
        assertThat(response).startsWith("HTTP/1.1 413").contains("application/problem+json")
                .doesNotContain("Exception").doesNotContain("io.fluxgate");
    }

    @Test
    void anUnsupportedContentTypeNamesNoJavaType() {
        client.post().uri("/api/auth/register").contentType(MediaType.TEXT_PLAIN).bodyValue("hello")
                .exchange()
                .expectStatus().isEqualTo(415)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody(JsonNode.class).value(body -> assertThat(body.toString())
                        .doesNotContain("io.fluxgate").doesNotContain("bodyType").doesNotContain("class"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"/api/users/1%00", "/api/users;jsessionid=1", "/api/users/%2F..%2Fadmin", "/api/users/%5C1"})
    void urlsTheFirewallRefusesGetAProblemBody(String path) throws Exception {
        String response = rawRequest("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", null);
        assertThat(response).startsWith("HTTP/1.1 400").contains("application/problem+json")
                .contains("\"status\":400");
    }

    @Test
    void aNotFoundRepeatsNeitherHostNorQuery() {
        Account user = newUser("Lost");
        client.get().uri("http://localhost:" + port + "/api/nothing-here?secret=abc")
                .header(HttpHeaders.AUTHORIZATION, user.bearer())
                .exchange()
                .expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody(JsonNode.class).value(body -> {
                    assertThat(body.path("instance").asString()).isEqualTo("/api/nothing-here");
                    assertThat(body.toString()).doesNotContain("localhost").doesNotContain("secret");
                });
    }

    @Test
    void onlyHealthInfoAndPrometheusArePublic() {
        client.get().uri("/actuator/health").exchange().expectStatus().isOk();
        client.get().uri("/actuator/prometheus").exchange().expectStatus().isOk();
        client.get().uri("/actuator/metrics").exchange().expectStatus().isUnauthorized();
        get(newUser("Curious"), "/actuator/metrics").exchange().expectStatus().isForbidden();
        get(admin(), "/actuator/metrics").exchange().expectStatus().isOk();
    }

    /**
     * One request over a plain socket (for what a well-behaved client library would not send). The
     * answer is read while the body is still going out: a server that refuses a body early may close
     * the connection before the client has finished sending it.
     */
    private String rawRequest(String head, String chunkedBody) throws Exception {
        try (Socket socket = new Socket("localhost", port)) {
            socket.setSoTimeout(20_000);
            java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
            Thread reader = new Thread(() -> {
                try {
                    InputStream in = socket.getInputStream();
                    byte[] buffer = new byte[8192];
                    for (int read; (read = in.read(buffer)) >= 0; ) {
                        synchronized (received) {
                            received.write(buffer, 0, read);
                        }
                    }
                } catch (java.io.IOException closed) {
                    // A reset after the answer: what arrived before it is what counts.
                }
            });
            reader.start();
            OutputStream out = socket.getOutputStream();
            try {
                out.write(head.getBytes(StandardCharsets.ISO_8859_1));
                if (chunkedBody != null) {
                    byte[] body = chunkedBody.getBytes(StandardCharsets.UTF_8);
                    for (int offset = 0; offset < body.length; offset += 8192) {
                        int length = Math.min(8192, body.length - offset);
                        out.write((Integer.toHexString(length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                        out.write(body, offset, length);
                        out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    }
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                }
                out.flush();
            } catch (java.io.IOException refusedMidway) {
                // The server answered and closed before the whole body was sent.
            }
            reader.join(20_000);
            synchronized (received) {
                return received.toString(StandardCharsets.UTF_8);
            }
        }
    }
}
