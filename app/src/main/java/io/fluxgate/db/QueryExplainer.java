package io.fluxgate.db;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.fluxgate.web.ApiException;
import io.r2dbc.spi.ConnectionFactory;
import reactor.core.publisher.Mono;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.r2dbc.connection.R2dbcTransactionManager;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.reactive.TransactionalOperator;

/**
 * EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of the built-in {@link NamedQuery named queries}, on the
 * analytics pool. ANALYZE really runs the statement, so it runs inside a transaction that is always
 * rolled back: explaining can never change data.
 */
@Component
public class QueryExplainer {

    private final List<NamedQuery.Source> sources;
    private final DatabaseClient analytics;
    private final TransactionalOperator rolledBack;
    private final JsonMapper json;

    QueryExplainer(List<NamedQuery.Source> sources, @Qualifier("analyticsDatabaseClient") DatabaseClient analytics,
            @Qualifier("analyticsConnectionFactory") ConnectionFactory analyticsConnections, JsonMapper json) {
        this.sources = sources;
        this.analytics = analytics;
        this.rolledBack = TransactionalOperator.create(new R2dbcTransactionManager(analyticsConnections));
        this.json = json;
    }

    /** The names an operator may ask for, in a stable order. */
    public List<String> names() {
        return List.copyOf(queries().keySet());
    }

    /** Asked for each time: sample parameters such as "30 days ago" stay relative to now. */
    private Map<String, NamedQuery> queries() {
        Map<String, NamedQuery> byName = new LinkedHashMap<>();
        sources.stream().flatMap(source -> source.namedQueries().stream()).forEach(query -> byName.put(query.name(), query));
        return byName;
    }

    public Mono<Plan> explain(String name) {
        NamedQuery query = queries().get(name);
        if (query == null) {
            return Mono.error(ApiException.notFound("Unknown query; known queries: " + String.join(", ", names())));
        }
        return rolledBack.execute(status -> {
                    status.setRollbackOnly();
                    DatabaseClient.GenericExecuteSpec spec = analytics.sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query.sql());
                    List<Object> parameters = query.sampleParameters();
                    for (int i = 0; i < parameters.size(); i++) {
                        spec = spec.bind(i, parameters.get(i));
                    }
                    return spec.map(row -> row.get(0, String.class)).one();
                })
                .single()
                .map(text -> toPlan(query, json.readTree(text).get(0)));
    }

    private static Plan toPlan(NamedQuery query, JsonNode explained) {
        JsonNode plan = explained.get("Plan");
        return new Plan(query.name(), query.description(), explained.path("Execution Time").asDouble(),
                explained.path("Planning Time").asDouble(), plan.path("Total Cost").asDouble(),
                plan.path("Actual Rows").asLong(), plan);
    }

    /**
     * @param executionTime milliseconds the statement ran
     * @param planningTime milliseconds spent planning it
     * @param totalCost the planner's estimate for the top plan node
     * @param actualRows rows the top plan node returned
     * @param plan PostgreSQL's plan tree, as EXPLAIN's JSON has it
     */
    public record Plan(String queryName, String description, double executionTime, double planningTime,
            double totalCost, long actualRows, JsonNode plan) {
    }
}
