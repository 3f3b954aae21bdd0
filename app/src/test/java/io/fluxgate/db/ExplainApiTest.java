package io.fluxgate.db;

import java.util.List;

import io.fluxgate.support.IntegrationTest;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.http.MediaType;

import static org.assertj.core.api.Assertions.assertThat;

class ExplainApiTest extends IntegrationTest {

    @Test
    void everyNamedQueryExplainsWithItsPlanAndTimings() {
        Account admin = admin();
        JsonNode names = get(admin, "/api/admin/explain").exchange().expectStatus().isOk()
                .expectBody(JsonNode.class).returnResult().getResponseBody().path("queries");
        List<String> queries = names.valueStream().map(JsonNode::asString).toList();
        assertThat(queries).contains("user-by-email", "users-page", "active-users", "user-stats", "posts-page",
                "author-posts-page", "transfers-page");
        for (String name : queries) {
            JsonNode plan = get(admin, "/api/admin/explain/{name}", name).exchange().expectStatus().isOk()
                    .expectBody(JsonNode.class).returnResult().getResponseBody();
            assertThat(plan.path("queryName").asString()).isEqualTo(name);
            assertThat(plan.path("plan").path("Node Type").asString()).as(name).isNotEmpty();
            assertThat(plan.path("executionTime").isNumber()).as(name).isTrue();
            assertThat(plan.path("planningTime").isNumber()).as(name).isTrue();
            assertThat(plan.path("totalCost").asDouble()).as(name).isPositive();
            assertThat(plan.path("actualRows").isIntegralNumber()).as(name).isTrue();
            // ANALYZE and BUFFERS were on: actual timings and buffer counts are in the tree.
            assertThat(plan.path("plan").has("Actual Total Time")).as(name).isTrue();
            assertThat(plan.path("plan").has("Shared Hit Blocks")).as(name).isTrue();
        }
    }

    @Test
    void analyzeReallyRunsTheQuery() {
        Account admin = admin();
        for (int i = 0; i < 3; i++) {
            newUser("Indexed");
        }
        JsonNode plan = get(admin, "/api/admin/explain/users-page").exchange().expectStatus().isOk()
                .expectBody(JsonNode.class).returnResult().getResponseBody();
        assertThat(plan.path("actualRows").asLong()).isGreaterThanOrEqualTo(3);
        assertThat(plan.path("plan").path("Actual Loops").asLong()).isEqualTo(1);
    }

    @Test
    void unknownNamesAre404AndNonAdminsAre403() {
        get(admin(), "/api/admin/explain/{name}", "DROP TABLE users").exchange().expectStatus().isNotFound()
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").value(detail -> assertThat((String) detail).startsWith("Unknown query"));
        get(newUser("Curious"), "/api/admin/explain/user-stats").exchange().expectStatus().isForbidden();
        client.get().uri("/api/admin/explain/user-stats").exchange().expectStatus().isUnauthorized();
    }
}
