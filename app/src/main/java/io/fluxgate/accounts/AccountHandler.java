package io.fluxgate.accounts;

import java.net.URI;

import io.fluxgate.security.Caller;
import io.fluxgate.web.Cursors;
import io.fluxgate.web.KeysetPage;
import io.fluxgate.web.QueryParams;
import io.fluxgate.web.RequestValidator;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;

@Component
class AccountHandler {

    /** Set on the answer to a repeated idempotency key: the body is the first transfer's. */
    static final String REPLAYED_HEADER = "Idempotent-Replayed";

    private final AccountService accounts;
    private final RequestValidator validator;

    AccountHandler(AccountService accounts, RequestValidator validator) {
        this.accounts = accounts;
        this.validator = validator;
    }

    Mono<ServerResponse> open(ServerRequest request) {
        return Caller.of(request).flatMap(accounts::open)
                .flatMap(account -> ServerResponse.created(URI.create("/api/accounts/me")).bodyValue(account));
    }

    Mono<ServerResponse> mine(ServerRequest request) {
        return Caller.of(request).flatMap(accounts::mine).flatMap(account -> ServerResponse.ok().bodyValue(account));
    }

    Mono<ServerResponse> deposit(ServerRequest request) {
        long userId = QueryParams.id(request, "userId");
        return validator.body(request, AccountRequests.Deposit.class)
                .flatMap(deposit -> accounts.deposit(userId, deposit))
                .flatMap(account -> ServerResponse.ok().bodyValue(account));
    }

    Mono<ServerResponse> transfer(ServerRequest request) {
        return Mono.zip(Caller.of(request), validator.body(request, AccountRequests.NewTransfer.class))
                .flatMap(both -> accounts.transfer(both.getT1(), both.getT2()))
                .flatMap(transfer -> ServerResponse.created(URI.create("/api/transfers/" + transfer.id()))
                        .header(REPLAYED_HEADER, String.valueOf(transfer.replayed()))
                        .bodyValue(transfer));
    }

    /** Newest first; {@code after} is the cursor of the last transfer already seen. */
    Mono<ServerResponse> transfers(ServerRequest request) {
        long before = request.queryParam("after").map(cursor -> Cursors.decode(cursor, "after")).orElse(Long.MAX_VALUE);
        int limit = QueryParams.intParam(request, "limit", 50, 1, 100);
        return Caller.of(request)
                .flatMapMany(caller -> accounts.transfersBefore(caller, before, limit))
                .collectList()
                .map(rows -> KeysetPage.of(rows, limit, transfer -> Cursors.encode(transfer.id())))
                .flatMap(page -> ServerResponse.ok().bodyValue(page));
    }
}
