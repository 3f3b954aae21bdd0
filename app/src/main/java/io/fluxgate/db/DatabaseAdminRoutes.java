package io.fluxgate.db;

import java.util.LinkedHashMap;
import java.util.Map;

import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static io.fluxgate.web.ApiDocs.doc;

/** Admin-only database tools (see the security rules): pool statistics and EXPLAIN of named queries. */
@Configuration(proxyBeanMethods = false)
class DatabaseAdminRoutes {

    private static final String TAG = "admin";

    @Bean
    RouterFunction<ServerResponse> databaseAdminRouter(NamedPools pools, QueryExplainer explainer) {
        return SpringdocRouteBuilder.route()
                .GET("/api/admin/pools", request -> {
                    Map<String, NamedPool.PoolStats> stats = new LinkedHashMap<>();
                    pools.all().forEach(pool -> stats.put(pool.name(), pool.stats()));
                    return ServerResponse.ok().bodyValue(stats);
                }, doc(TAG, "poolStats", "Statistics of each named pool (primary, analytics)").admin().ok(Map.class))
                .GET("/api/admin/explain", request -> ServerResponse.ok().bodyValue(Map.of("queries", explainer.names())),
                        doc(TAG, "explainableQueries", "The named queries that can be explained").admin().ok(Map.class))
                .GET("/api/admin/explain/{queryName}", request -> explainer.explain(request.pathVariable("queryName"))
                        .flatMap(plan -> ServerResponse.ok().bodyValue(plan)),
                        doc(TAG, "explainQuery", "EXPLAIN ANALYZE of one named query (never arbitrary SQL)")
                                .admin().path("queryName").ok(QueryExplainer.Plan.class).errors(404))
                .build();
    }
}
