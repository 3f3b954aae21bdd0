package io.fluxgate.db;

import java.util.List;
import java.util.Map;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.context.TestPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/** With a zero threshold every statement is "slow", so every statement's log line can be inspected. */
@ExtendWith(OutputCaptureExtension.class)
@TestPropertySource(properties = "fluxgate.db.slow-query-threshold=0ms")
class SlowQueryLogTest extends IntegrationTest {

    private static final String SECRET_PASSWORD = "Unmistakable-Pa55word";

    @Autowired
    NamedPools pools;

    @Test
    void slowStatementsAreLoggedWithoutBindValuesOrSecrets(CapturedOutput output) {
        QueryMetrics.Snapshot before = pools.metrics(NamedPools.PRIMARY).snapshot();
        String email = uniqueEmail("logged");
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Logged Person", "email", email, "password", SECRET_PASSWORD))
                .exchange().expectStatus().isCreated();
        String token = client.post().uri("/api/auth/login").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("email", email, "password", SECRET_PASSWORD))
                .exchange().expectStatus().isOk()
                .expectBody(Map.class).returnResult().getResponseBody().get("token").toString();
        client.get().uri("/api/users/stats").header(HttpHeaders.AUTHORIZATION, "Bearer " + token)
                .exchange().expectStatus().isOk();

        List<String> slowLines = output.getOut().lines().filter(line -> line.contains("Slow query on pool")).toList();
        assertThat(slowLines).anyMatch(line -> line.contains("pool 'primary'") && line.contains("INSERT INTO users"));
        assertThat(slowLines).anyMatch(line -> line.contains("pool 'analytics'") && line.contains("SELECT status, count(*)"));
        assertThat(slowLines).allSatisfy(line -> {
            String sql = line.substring(line.indexOf(" ms: ") + 5);
            assertThat(sql.length()).isLessThanOrEqualTo(QueryMetricsListener.LOGGED_SQL_CHARS + 3);
        });
        // Bind values (emails, hashes) and raw passwords never reach any log line.
        assertThat(output.getAll()).doesNotContain(SECRET_PASSWORD).doesNotContain(email).doesNotContain("$2a$");

        QueryMetrics.Snapshot after = pools.metrics(NamedPools.PRIMARY).snapshot();
        assertThat(after.queries()).isGreaterThan(before.queries());
        assertThat(after.slowQueries()).isGreaterThan(before.slowQueries());
        assertThat(pools.metrics(NamedPools.ANALYTICS).snapshot().queries()).isPositive();
    }

    @Test
    void failedStatementsCountAsErrors() {
        QueryMetrics.Snapshot before = pools.metrics(NamedPools.PRIMARY).snapshot();
        Account user = newUser("Dup");
        client.post().uri("/api/auth/register").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("name", "Dup", "email", user.email(), "password", PASSWORD))
                .exchange().expectStatus().isEqualTo(409);
        assertThat(pools.metrics(NamedPools.PRIMARY).snapshot().errors()).isGreaterThan(before.errors());
    }
}
