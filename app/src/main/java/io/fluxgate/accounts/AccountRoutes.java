package io.fluxgate.accounts;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static org.springframework.web.reactive.function.server.RouterFunctions.route;

/** Deposits are admin-only (see the security rules); everything else acts on the caller's own account. */
@Configuration(proxyBeanMethods = false)
class AccountRoutes {

    @Bean
    RouterFunction<ServerResponse> accountRouter(AccountHandler accounts) {
        return route()
                .POST("/api/accounts", accounts::open)
                .GET("/api/accounts/me", accounts::mine)
                .POST("/api/accounts/{userId}/deposit", accounts::deposit)
                .POST("/api/transfers", accounts::transfer)
                .GET("/api/transfers", accounts::transfers)
                .build();
    }
}
