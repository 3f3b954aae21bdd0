package io.fluxgate.db;

import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.springframework.web.reactive.function.server.RouterFunctions.route;

/** Admin-only database tools (see the security rules): pool statistics and EXPLAIN of named queries. */
@Configuration(proxyBeanMethods = false)
class DatabaseAdminRoutes {

    @Bean
    RouterFunction<ServerResponse> databaseAdminRouter(NamedPools pools, QueryExplainer explainer) {
        return route()
                .GET("/api/admin/pools", request -> {
                    Map<String, NamedPool.PoolStats> stats = new LinkedHashMap<>();
                    pools.all().forEach(pool -> stats.put(pool.name(), pool.stats()));
                    return ServerResponse.ok().bodyValue(stats);
                })
                .GET("/api/admin/explain", request -> ServerResponse.ok().bodyValue(Map.of("queries", explainer.names())))
                .GET("/api/admin/explain/{queryName}", request -> explainer.explain(request.pathVariable("queryName"))
                        .flatMap(plan -> ServerResponse.ok().bodyValue(plan)))
                .build();
    }
}
