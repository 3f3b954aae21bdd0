package io.fluxgate.db;

import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.springframework.web.reactive.function.server.RouterFunctions.route;

/** {@code GET /api/admin/pools}: live statistics of each named pool (admin only, see the security rules). */
@Configuration(proxyBeanMethods = false)
class PoolRoutes {

    @Bean
    RouterFunction<ServerResponse> poolStatsRouter(NamedPools pools) {
        return route()
                .GET("/api/admin/pools", request -> {
                    Map<String, NamedPool.PoolStats> stats = new LinkedHashMap<>();
                    pools.all().forEach(pool -> stats.put(pool.name(), pool.stats()));
                    return ServerResponse.ok().bodyValue(stats);
                })
                .build();
    }
}
