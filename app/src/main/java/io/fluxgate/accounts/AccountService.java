package io.fluxgate.accounts;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import io.fluxgate.security.Caller;
import io.fluxgate.web.ApiException;
import io.fluxgate.web.BoundedWorkQueue;
import io.fluxgate.web.PerUserLimit;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.R2dbcException;
import jakarta.annotation.PreDestroy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

import org.springframework.dao.DuplicateKeyException;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.transaction.ReactiveTransactionManager;
import org.springframework.transaction.reactive.TransactionalOperator;

/**
 * Accounts and transfers. A transfer is one transaction: lock both accounts (fixed order), replay
 * a known idempotency key, check the balance, then debit, credit and record in one statement.
 */
@Service
class AccountService {

    private static final Logger log = LoggerFactory.getLogger(AccountService.class);

    /** Serialization failure and deadlock: the transaction was rolled back and may simply run again. */
    private static final Set<String> RETRYABLE_STATES = Set.of("40001", "40P01");
    private static final String NUMERIC_OVERFLOW = "22003";

    private final AccountRepository accounts;
    private final TransactionalOperator tx;
    private final AccountProperties properties;
    private final Map<String, Counter> outcomes;
    private final Counter retries;
    private final BoundedWorkQueue transfers;
    private final PerUserLimit transfersInFlight;

    AccountService(AccountRepository accounts, ReactiveTransactionManager transactions, AccountProperties properties,
            MeterRegistry registry) {
        this.accounts = accounts;
        this.tx = TransactionalOperator.create(transactions);
        this.properties = properties;
        this.outcomes = Stream.of("completed", "replayed", "insufficient_funds", "not_found",
                        "contention", "failed")
                .collect(Collectors.toMap(Function.identity(), outcome -> Counter.builder("fluxgate.transfers")
                        .description("Transfer requests by outcome").tag("outcome", outcome).register(registry)));
        this.retries = Counter.builder("fluxgate.transfers.retries")
                .description("Transfer transactions run again after a serialization failure or deadlock")
                .register(registry);
        this.transfers = new BoundedWorkQueue("transfers", properties.transferConcurrency(), properties.transferQueue(),
                properties.transferQueueTimeout());
        this.transfersInFlight = new PerUserLimit(properties.transfersPerUser());
        Gauge.builder("fluxgate.transfers.queued", transfers, BoundedWorkQueue::queued)
                .description("Transfers waiting for their turn").register(registry);
    }

    @PreDestroy
    void stop() {
        transfers.dispose();
    }

    Mono<Account> open(Caller caller) {
        return accounts.open(caller.id())
                .switchIfEmpty(Mono.error(() -> ApiException.conflict("Account already exists")));
    }

    Mono<Account> mine(Caller caller) {
        return accounts.find(caller.id()).switchIfEmpty(Mono.error(() -> ApiException.notFound("Account not found")));
    }

    Mono<Account> deposit(long userId, AccountRequests.Deposit request) {
        return accounts.deposit(userId, Money.parse(request.amount()))
                .switchIfEmpty(Mono.error(() -> ApiException.notFound("Account not found")))
                .onErrorMap(error -> hasSqlState(error, Set.of(NUMERIC_OVERFLOW)),
                        error -> new ApiException(HttpStatus.UNPROCESSABLE_CONTENT, "Balance would exceed the maximum"));
    }

    Mono<Transfer> transfer(Caller caller, AccountRequests.NewTransfer request) {
        long from = caller.id();
        long to = request.toUserId();
        if (from == to) {
            return Mono.error(ApiException.invalid("toUserId", "Cannot transfer to yourself"));
        }
        BigDecimal amount = Money.parse(request.amount());
        String key = request.idempotencyKey();
        Mono<Transfer> once = accounts.lockPair(from, to)
                .collectMap(AccountRepository.Balance::userId, AccountRepository.Balance::balance)
                .flatMap(balances -> replayOrMove(from, to, amount, key, balances));
        // A burst waits its turn in memory, holding no connection, instead of timing out on the pool.
        Mono<Transfer> retried = tx.transactional(once)
                .retryWhen(Retry.backoff(properties.transferRetries(), Duration.ofMillis(5))
                        .maxBackoff(Duration.ofMillis(200))
                        .filter(error -> hasSqlState(error, RETRYABLE_STATES))
                        .doBeforeRetry(signal -> retries.increment())
                        .onRetryExhaustedThrow((spec, signal) -> contention(signal.failure())));
        // Each account may have only so many transfers queued or running, so no one fills the queue.
        Mono<Transfer> queued = Mono.defer(() -> transfersInFlight.tryAcquire(from)
                ? transfers.submit(retried).doFinally(signal -> transfersInFlight.release(from))
                : Mono.error(ApiException.tooManyRequests("Too many transfers from this account are in flight; "
                        + "wait for their answers", Duration.ofSeconds(1))));
        return queued
                // Two requests with one new key raced past the check: the loser answers with the winner's transfer.
                .onErrorResume(error -> key != null && error instanceof DuplicateKeyException,
                        error -> accounts.findByIdempotencyKey(from, key).map(Transfer::asReplay)
                                .switchIfEmpty(Mono.error(error)))
                .doOnSuccess(transfer -> count(transfer.replayed() ? "replayed" : "completed"))
                .doOnError(this::countFailure);
    }

    private Mono<Transfer> replayOrMove(long from, long to, BigDecimal amount, String key, Map<Long, BigDecimal> balances) {
        Mono<Transfer> previous = key == null ? Mono.empty()
                : accounts.findByIdempotencyKey(from, key).map(Transfer::asReplay);
        return previous.switchIfEmpty(Mono.defer(() -> {
            BigDecimal balance = balances.get(from);
            if (balance == null) {
                return Mono.error(ApiException.notFound("Account not found"));
            }
            if (!balances.containsKey(to)) {
                return Mono.error(ApiException.notFound("Recipient account not found"));
            }
            if (balance.compareTo(amount) < 0) {
                return Mono.error(new ApiException(HttpStatus.UNPROCESSABLE_CONTENT, "Insufficient funds"));
            }
            return accounts.move(from, to, amount, key)
                    .switchIfEmpty(Mono.error(() -> new IllegalStateException("Transfer moved no rows")));
        }));
    }

    Flux<Transfer> transfersBefore(Caller caller, long beforeId, int limit) {
        return accounts.transfersBefore(caller.id(), beforeId, limit);
    }

    private ApiException contention(Throwable last) {
        log.warn("Transfer gave up after {} retries: {}", properties.transferRetries(), last.toString());
        return ApiException.unavailable("The accounts are busy; try the transfer again", Duration.ofSeconds(1));
    }

    private void countFailure(Throwable error) {
        if (error instanceof ApiException api) {
            switch (api.status()) {
                case UNPROCESSABLE_CONTENT -> count("insufficient_funds");
                case NOT_FOUND -> count("not_found");
                case SERVICE_UNAVAILABLE, TOO_MANY_REQUESTS -> count("contention");
                default -> count("failed");
            }
        } else {
            count("failed");
        }
    }

    private void count(String outcome) {
        outcomes.get(outcome).increment();
    }

    static boolean hasSqlState(Throwable error, Set<String> states) {
        for (Throwable t = error; t != null && t.getCause() != t; t = t.getCause()) {
            // A failure may carry no SQL state at all (a pool timeout, a dropped connection).
            if (t instanceof R2dbcException r2dbc && r2dbc.getSqlState() != null && states.contains(r2dbc.getSqlState())) {
                return true;
            }
        }
        return false;
    }
}
