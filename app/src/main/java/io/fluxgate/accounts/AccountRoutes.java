package io.fluxgate.accounts;

import io.fluxgate.web.KeysetPage;
import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static io.fluxgate.web.ApiDocs.doc;

/** Deposits are admin-only (see the security rules); everything else acts on the caller's own account. */
@Configuration(proxyBeanMethods = false)
class AccountRoutes {

    private static final String TAG = "accounts";

    @Bean
    RouterFunction<ServerResponse> accountRouter(AccountHandler accounts) {
        return SpringdocRouteBuilder.route()
                .POST("/api/accounts", accounts::open, doc(TAG, "openAccount", "Open the caller's account")
                        .created(Account.class).errors(409))
                .GET("/api/accounts/me", accounts::mine, doc(TAG, "myAccount", "The caller's account and balance")
                        .ok(Account.class).errors(404))
                .POST("/api/accounts/{userId}/deposit", accounts::deposit, doc(TAG, "deposit", "Credit a user's account")
                        .admin().pathId("userId").body(AccountRequests.Deposit.class).ok(Account.class).errors(404))
                .POST("/api/transfers", accounts::transfer, doc(TAG, "transfer",
                                "Move money from the caller's account, once per idempotency key")
                        .body(AccountRequests.NewTransfer.class).created(Transfer.class).errors(404, 409, 429))
                .GET("/api/transfers", accounts::transfers, doc(TAG, "listTransfers", "The caller's transfers, newest first")
                        .query("after", "nextCursor of the previous page").query("limit", "1..100, default 50")
                        .ok(KeysetPage.class).errors(400))
                .build();
    }
}
