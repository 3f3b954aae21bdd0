package io.fluxgate.security;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.MACSigner;
import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.WsClient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.env.Environment;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tokens signed with the service's own secret but carrying claims it would never write. A signed
 * token is still input: each is a 401 (problem+json) on REST, on the WebSocket upgrade (header and
 * query) and on the event stream, and an error frame that leaves the session open on {@code auth};
 * never a 500, a dropped connection or a session.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OddTokensTest extends IntegrationTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    /** Stands for an array nested 1500 deep, which the signer writes in by hand (JSON writers refuse it). */
    private static final String DEEP = "deeply-nested";

    @LocalServerPort
    int port;

    @Autowired
    Environment environment;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private Account user;
    /** The claims of a token the service issued to {@link #user}; each case changes a copy. */
    private ObjectNode issued;

    @BeforeAll
    void signIn() {
        user = newUser("Odd Tokens");
        String payload = user.token().split("\\.")[1];
        issued = (ObjectNode) JSON.readTree(Base64.getUrlDecoder().decode(payload));
    }

    static Stream<Arguments> oddClaims() {
        List<Arguments> cases = new ArrayList<>();
        add(cases, "sub not a number", c -> c.put("sub", "abc"));
        add(cases, "sub empty", c -> c.put("sub", ""));
        add(cases, "sub beyond 64 bits", c -> c.put("sub", "99999999999999999999"));
        add(cases, "sub one past the largest long", c -> c.put("sub", "9223372036854775808"));
        add(cases, "sub negative", c -> c.put("sub", "-1"));
        add(cases, "sub zero", c -> c.put("sub", "0"));
        add(cases, "sub with a plus sign", c -> c.put("sub", "+" + c.path("sub").asString()));
        add(cases, "sub with a space", c -> c.put("sub", " " + c.path("sub").asString()));
        add(cases, "sub with a fraction", c -> c.put("sub", c.path("sub").asString() + ".0"));
        add(cases, "sub an object", c -> c.putObject("sub").put("id", 1));
        add(cases, "sub an array", c -> c.putArray("sub").add(1));
        add(cases, "sub missing", c -> c.remove("sub"));
        add(cases, "roles a string", c -> c.put("roles", "ADMIN"));
        add(cases, "roles an object", c -> c.putObject("roles").put("ADMIN", true));
        add(cases, "roles numbers", c -> c.putArray("roles").add(1).add(2));
        add(cases, "roles unknown", c -> c.putArray("roles").add("USER").add("ROOT"));
        add(cases, "roles nested", c -> c.putArray("roles").addArray().add("ADMIN"));
        add(cases, "roles missing", c -> c.remove("roles"));
        add(cases, "ver text", c -> c.put("ver", "1"));
        add(cases, "ver a fraction", c -> c.put("ver", 1.5));
        add(cases, "ver huge exponent", c -> c.put("ver", 1e300));
        add(cases, "ver beyond 64 bits", c -> c.put("ver", new java.math.BigInteger("18446744073709551616")));
        add(cases, "ver negative", c -> c.put("ver", -1));
        add(cases, "ver missing", c -> c.remove("ver"));
        add(cases, "exp text", c -> c.put("exp", "tomorrow"));
        add(cases, "exp huge exponent", c -> c.put("exp", 1e300));
        add(cases, "exp beyond any date", c -> c.put("exp", Long.MAX_VALUE));
        add(cases, "exp missing", c -> c.remove("exp"));
        add(cases, "iat text", c -> c.put("iat", "now"));
        add(cases, "iat after exp", c -> c.put("iat", c.path("exp").asLong() + 10));
        add(cases, "nbf far ahead", c -> c.put("nbf", Instant.now().plusSeconds(86_400).getEpochSecond()));
        add(cases, "iss missing", c -> c.remove("iss"));
        add(cases, "a claim nested 1500 deep", c -> c.put("x", DEEP));
        return cases.stream();
    }

    private static void add(List<Arguments> cases, String name, Consumer<ObjectNode> change) {
        cases.add(Arguments.of(name, change));
    }

    /** The same claims re-signed: accepted, so a 401 below is the claims' doing, not the signing's. */
    @Test
    void theIssuedClaimsResignedAreAccepted() throws Exception {
        String token = sign(issued.deepCopy());
        assertThat(rest(token).statusCode()).isEqualTo(200);
        assertThat(WsClient.handshakeStatus(port, token)).isEqualTo(101);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("oddClaims")
    void anOddlyClaimedTokenIsA401Everywhere(String name, Consumer<ObjectNode> change) throws Exception {
        ObjectNode claims = issued.deepCopy();
        change.accept(claims);
        String token = sign(claims);

        HttpResponse<String> rest = rest(token);
        assertThat(rest.statusCode()).as("REST").isEqualTo(401);
        assertThat(rest.headers().firstValue("content-type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/problem+json"));
        assertThat(JSON.readTree(rest.body()).path("status").asInt()).isEqualTo(401);

        assertThat(WsClient.handshakeStatus(port, token)).as("WebSocket upgrade, header").isEqualTo(401);
        // A token too long for a request line (4 KB) is refused as a too-long URL before it is read.
        assertThat(WsClient.handshakeStatusWithQueryToken(port, token)).as("WebSocket upgrade, query")
                .isEqualTo(token.length() > 4_000 ? 414 : 401);

        HttpResponse<String> stream = http.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port + "/api/changes/stream?channel=post_changes"))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(stream.statusCode()).as("event stream").isEqualTo(401);

        try (WsClient socket = WsClient.connect(port, user.token())) {
            socket.send(JSON.writeValueAsString(JSON.createObjectNode().put("type", "auth").put("token", token)));
            JsonNode answer = socket.next();
            assertThat(answer.path("type").asString()).isEqualTo("error");
            assertThat(answer.path("error").asString()).isEqualTo("Invalid token");
            socket.send("{\"type\":\"ping\"}");
            assertThat(socket.next().path("type").asString()).as("the session lives on").isEqualTo("pong");
        }
    }

    private HttpResponse<String> rest(String token) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/api/users/" + user.id()))
                        .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private String sign(ObjectNode claims) throws Exception {
        byte[] secret = environment.getRequiredProperty("fluxgate.security.jwt-secret").getBytes(StandardCharsets.UTF_8);
        String json = JSON.writeValueAsString(claims)
                .replace("\"" + DEEP + "\"", "[".repeat(1_500) + "]".repeat(1_500));
        JWSObject jws = new JWSObject(new JWSHeader(JWSAlgorithm.HS256), new Payload(json));
        jws.sign(new MACSigner(secret));
        return jws.serialize();
    }
}
