package io.fluxgate.accounts;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

import io.fluxgate.support.IntegrationTest;
import io.fluxgate.support.Tx;
import io.micrometer.core.instrument.MeterRegistry;
import io.r2dbc.spi.ConnectionFactory;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.web.reactive.function.client.WebClient;

import static org.assertj.core.api.Assertions.assertThat;

class TransferApiTest extends IntegrationTest {

    @LocalServerPort
    int port;

    @Autowired
    DatabaseClient db;

    @Autowired
    MeterRegistry meters;

    @Autowired
    ConnectionFactory connections;

    @Test
    void anAccountOpensOnceWithAZeroBalance() {
        Account user = newUser("Saver");
        client.post().uri("/api/accounts").header(HttpHeaders.AUTHORIZATION, user.bearer()).exchange()
                .expectStatus().isCreated()
                .expectHeader().location("/api/accounts/me")
                .expectBody()
                .jsonPath("$.userId").isEqualTo(user.id())
                .jsonPath("$.balance").isEqualTo("0.00")
                .jsonPath("$.currency").isEqualTo("USD");
        client.post().uri("/api/accounts").header(HttpHeaders.AUTHORIZATION, user.bearer()).exchange()
                .expectStatus().isEqualTo(409)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").isEqualTo("Account already exists");
        get(user, "/api/accounts/me").exchange().expectStatus().isOk()
                .expectBody().jsonPath("$.balance").isEqualTo("0.00");
    }

    @Test
    void withoutAnAccountMeIs404() {
        get(newUser("Nobody"), "/api/accounts/me").exchange().expectStatus().isNotFound()
                .expectBody().jsonPath("$.detail").isEqualTo("Account not found");
    }

    @Test
    void onlyAdminsDeposit() {
        Account user = withAccount("Depositor", "0");
        client.post().uri("/api/accounts/{id}/deposit", user.id()).header(HttpHeaders.AUTHORIZATION, user.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("amount", "10.00"))
                .exchange().expectStatus().isForbidden();
        deposit(user, "12.5").expectStatus().isOk().expectBody()
                .jsonPath("$.balance").isEqualTo("12.50")
                .jsonPath("$.userId").isEqualTo(user.id());
        deposit(newUser("No Account"), "1.00").expectStatus().isNotFound();
        assertThat(balance(user)).isEqualByComparingTo("12.50");
    }

    @Test
    void aTransferMovesMoneyAndIsListedForBothSides() {
        Account alice = withAccount("Alice", "100.00");
        Account bob = withAccount("Bob", "5.00");
        transfer(alice, bob.id(), "30.25", null).expectStatus().isCreated()
                .expectHeader().valueEquals(AccountHandler.REPLAYED_HEADER, "false")
                .expectBody()
                .jsonPath("$.id").isNumber()
                .jsonPath("$.fromUserId").isEqualTo(alice.id())
                .jsonPath("$.toUserId").isEqualTo(bob.id())
                .jsonPath("$.amount").isEqualTo("30.25")
                .jsonPath("$.type").isEqualTo("transfer")
                .jsonPath("$.createdAt").isNotEmpty();
        assertThat(balance(alice)).isEqualByComparingTo("69.75");
        assertThat(balance(bob)).isEqualByComparingTo("35.25");
        get(bob, "/api/transfers").exchange().expectStatus().isOk().expectBody()
                .jsonPath("$.data.length()").isEqualTo(2)
                .jsonPath("$.data[0].fromUserId").isEqualTo(alice.id())
                .jsonPath("$.data[0].amount").isEqualTo("30.25")
                .jsonPath("$.data[1].type").isEqualTo("deposit")
                .jsonPath("$.data[1].fromUserId").doesNotExist();
        get(alice, "/api/transfers").exchange().expectBody().jsonPath("$.data[0].toUserId").isEqualTo(bob.id());
    }

    @Test
    void insufficientFundsChangesNothing() {
        Account poor = withAccount("Poor", "10.00");
        Account rich = withAccount("Rich", "50.00");
        long transfersBefore = transferCount();
        transfer(poor, rich.id(), "10.01", null).expectStatus().isEqualTo(422)
                .expectHeader().contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .expectBody().jsonPath("$.detail").isEqualTo("Insufficient funds");
        assertThat(balance(poor)).isEqualByComparingTo("10.00");
        assertThat(balance(rich)).isEqualByComparingTo("50.00");
        assertThat(transferCount()).isEqualTo(transfersBefore);
        transfer(poor, rich.id(), "10.00", null).expectStatus().isCreated();
        assertThat(balance(poor)).isEqualByComparingTo("0.00");
    }

    @Test
    void aRepeatedIdempotencyKeyReturnsTheFirstTransferAndMovesNoMoney() {
        Account payer = withAccount("Payer", "100.00");
        Account payee = withAccount("Payee", "0");
        String key = "invoice-" + ThreadLocalRandom.current().nextInt(1_000_000);
        long first = transfer(payer, payee.id(), "40.00", key).expectStatus().isCreated()
                .expectBody(JsonNode.class).returnResult().getResponseBody().path("id").asLong();
        transfer(payer, payee.id(), "40.00", key).expectStatus().isCreated()
                .expectHeader().valueEquals(AccountHandler.REPLAYED_HEADER, "true")
                .expectBody().jsonPath("$.id").isEqualTo(first).jsonPath("$.amount").isEqualTo("40.00");
        assertThat(balance(payer)).isEqualByComparingTo("60.00");
        assertThat(balance(payee)).isEqualByComparingTo("40.00");
        // Another sender may use the same key: keys belong to their sender.
        Account other = withAccount("Other Payer", "10.00");
        transfer(other, payee.id(), "1.00", key).expectStatus().isCreated()
                .expectHeader().valueEquals(AccountHandler.REPLAYED_HEADER, "false");
    }

    @Test
    void concurrentRetriesOfOneKeyMoveMoneyOnce() {
        Account payer = withAccount("Eager", "100.00");
        Account payee = withAccount("Patient", "0");
        List<Integer> statuses = Flux.range(0, 20)
                .flatMap(i -> post(payer, "/api/transfers",
                        Map.of("toUserId", payee.id(), "amount", "7.00", "idempotencyKey", "once")), 20)
                .collectList().block();
        assertThat(statuses).containsOnly(201);
        assertThat(balance(payer)).isEqualByComparingTo("93.00");
        assertThat(balance(payee)).isEqualByComparingTo("7.00");
    }

    @Test
    void badAmountsAnswer400AndChangeNothing() {
        Account payer = withAccount("Careful", "100.00");
        Account payee = withAccount("Waiting", "0");
        Map<Object, String> cases = Map.of(
                "0", "Amount must be greater than 0",
                "0.00", "Amount must be greater than 0",
                "-5.00", "Amount must be greater than 0",
                "1.005", "Amount cannot have more than 2 decimal places",
                "1000000000.01", "Amount cannot exceed 1000000000.00",
                "ten", "Amount must be a decimal string such as \"12.50\"",
                "", "Amount must be a decimal string such as \"12.50\"");
        cases.forEach((amount, message) -> transfer(payer, payee.id(), amount, null).expectStatus().isBadRequest()
                .expectBody()
                .jsonPath("$.errors[0].field").isEqualTo("amount")
                .jsonPath("$.errors[0].message").isEqualTo(message));
        client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, payer.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("toUserId", payee.id()))
                .exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Amount is required");
        assertThat(balance(payer)).isEqualByComparingTo("100.00");
        assertThat(balance(payee)).isEqualByComparingTo("0.00");
    }

    @Test
    void aJsonNumberAmountIsReadExactly() {
        Account payer = withAccount("Numeric", "10.00");
        Account payee = withAccount("Receiver", "0");
        client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, payer.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"toUserId\":" + payee.id() + ",\"amount\":2.1}")
                .exchange().expectStatus().isCreated().expectBody().jsonPath("$.amount").isEqualTo("2.10");
        client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, payer.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue("{\"toUserId\":" + payee.id() + ",\"amount\":0.001}")
                .exchange().expectStatus().isBadRequest();
        assertThat(balance(payee)).isEqualByComparingTo("2.10");
    }

    @Test
    void unknownRecipientsSelfTransfersAndSmuggledFieldsAreRefused() {
        Account payer = withAccount("Sender", "10.00");
        Account noAccount = newUser("Accountless");
        transfer(payer, noAccount.id(), "1.00", null).expectStatus().isNotFound()
                .expectBody().jsonPath("$.detail").isEqualTo("Recipient account not found");
        transfer(noAccount, payer.id(), "1.00", null).expectStatus().isNotFound()
                .expectBody().jsonPath("$.detail").isEqualTo("Account not found");
        transfer(payer, payer.id(), "1.00", null).expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].message").isEqualTo("Cannot transfer to yourself");
        client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, payer.bearer())
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("toUserId", noAccount.id(), "amount", "1.00", "fromUserId", 1))
                .exchange().expectStatus().isBadRequest()
                .expectBody().jsonPath("$.errors[0].field").isEqualTo("fromUserId");
        client.post().uri("/api/transfers").contentType(MediaType.APPLICATION_JSON)
                .bodyValue(Map.of("toUserId", payer.id(), "amount", "1.00"))
                .exchange().expectStatus().isUnauthorized();
        assertThat(balance(payer)).isEqualByComparingTo("10.00");
    }

    @Test
    void transfersPageByCursorWithoutGapsOrRepeats() {
        Account payer = withAccount("Pager", "100.00");
        Account payee = withAccount("Paged", "0");
        for (int i = 1; i <= 5; i++) {
            transfer(payer, payee.id(), i + ".00", null).expectStatus().isCreated();
        }
        List<String> amounts = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            String uri = "/api/transfers?limit=2" + (cursor == null ? "" : "&after=" + cursor);
            JsonNode page = get(payee, uri).exchange().expectStatus().isOk()
                    .expectBody(JsonNode.class).returnResult().getResponseBody();
            page.path("data").forEach(transfer -> amounts.add(transfer.path("amount").asString()));
            cursor = page.path("hasNextPage").asBoolean() ? page.path("nextCursor").asString() : null;
            pages++;
        } while (cursor != null);
        assertThat(amounts).containsExactly("5.00", "4.00", "3.00", "2.00", "1.00");
        assertThat(pages).isEqualTo(3);
        get(payee, "/api/transfers?limit=0").exchange().expectStatus().isBadRequest();
        get(payee, "/api/transfers?after=not-a-cursor").exchange().expectStatus().isBadRequest();
    }

    /**
     * Transfers in both directions among a few accounts, all at once: opposite pairs lock the same
     * rows, so a careless lock order would deadlock and a careless check would overdraw.
     */
    @Test
    void concurrentTransfersConserveMoneyNeverOverdrawAndNeverFail() {
        List<Account> accounts = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            accounts.add(withAccount("Busy " + i, "50.00"));
        }
        BigDecimal totalBefore = totalOf(accounts);
        double retriesBefore = meters.counter("fluxgate.transfers.retries").count();
        Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        Flux.range(0, 200)
                .flatMap(i -> {
                    Account from = accounts.get(i % 4);
                    Account to = accounts.get((i + 1 + (i / 4) % 3) % 4);
                    String amount = (1 + i % 20) + "." + (i % 10) + "5";
                    return post(from, "/api/transfers", Map.of("toUserId", to.id(), "amount", amount));
                }, 200)
                .doOnNext(status -> statuses.merge(status, 1, Integer::sum))
                .blockLast();
        assertThat(statuses.keySet()).as("only successes and insufficient funds: %s", statuses).isSubsetOf(Set.of(201, 422));
        assertThat(statuses.get(201)).isPositive();
        // Retries would hide a deadlock from the client; with a fixed lock order there is none to retry.
        assertThat(meters.counter("fluxgate.transfers.retries").count()).isEqualTo(retriesBefore);
        assertThat(totalOf(accounts)).isEqualByComparingTo(totalBefore);
        for (Account account : accounts) {
            assertThat(balance(account)).isNotNegative();
        }
        // Every balance is its opening deposit plus what the recorded transfers say.
        Set<Long> ids = new HashSet<>();
        accounts.forEach(account -> ids.add(account.id()));
        for (Account account : accounts) {
            BigDecimal recorded = db.sql("SELECT coalesce(sum(CASE WHEN to_user_id = $1 THEN amount ELSE -amount END), 0) AS net"
                            + " FROM transfers WHERE from_user_id = $1 OR to_user_id = $1")
                    .bind(0, account.id()).map(row -> row.get("net", BigDecimal.class)).one().block();
            assertThat(balance(account)).isEqualByComparingTo(recorded);
        }
    }

    /**
     * 200 transfers at once between the same two accounts, each on its own connection: every one
     * waits on the same two row locks. They queue (in memory, not on the pool) and all complete; none
     * answers 500, and the money adds up.
     */
    @Test
    void aBurstOfOppositeTransfersBetweenTwoAccountsQueuesAndAllComplete() {
        Account a = withAccount("Burst A", "1000.00");
        Account b = withAccount("Burst B", "1000.00");
        WebClient burst = WebClient.builder()
                .clientConnector(new ReactorClientHttpConnector(HttpClient.create(
                        ConnectionProvider.builder("burst").maxConnections(250).pendingAcquireMaxCount(-1).build())))
                .baseUrl("http://localhost:" + port).build();
        Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        Flux.range(0, 200)
                .flatMap(i -> {
                    Account from = i % 2 == 0 ? a : b;
                    Account to = i % 2 == 0 ? b : a;
                    return burst.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, from.bearer())
                            .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("toUserId", to.id(), "amount", "1.00"))
                            .exchangeToMono(response -> response.releaseBody().thenReturn(response.statusCode().value()));
                }, 200)
                .doOnNext(status -> statuses.merge(status, 1, Integer::sum))
                .blockLast(java.time.Duration.ofSeconds(120));
        assertThat(statuses).as("statuses of the burst").isEqualTo(Map.of(201, 200));
        assertThat(balance(a).add(balance(b))).isEqualByComparingTo("2000.00");
        assertThat(balance(a)).isEqualByComparingTo("1000.00");
    }

    /** A failure without any SQL state (a pool timeout, a dropped connection) is not a retryable one, and no crash. */
    @Test
    void aFailureWithoutSqlStateIsNotRetryable() {
        assertThat(AccountService.hasSqlState(new io.r2dbc.spi.R2dbcTimeoutException("pool timeout"), Set.of("40001")))
                .isFalse();
        assertThat(AccountService.hasSqlState(new RuntimeException(new io.r2dbc.spi.R2dbcTransientResourceException()),
                Set.of("40P01"))).isFalse();
        assertThat(AccountService.hasSqlState(new io.r2dbc.spi.R2dbcRollbackException("deadlock", "40P01"), Set.of("40P01")))
                .isTrue();
    }

    /**
     * A real deadlock: another transaction holds the recipient's row and then asks for the sender's,
     * which the transfer holds. PostgreSQL aborts the transfer's transaction (its deadlock check runs
     * first: the other side waits 10 s before checking); the transfer runs again and completes once.
     */
    @Test
    void aTransferThatLosesADeadlockIsRetriedAndMovesMoneyOnce() throws Exception {
        Account sender = withAccount("Deadlocked Sender", "30.00");
        Account recipient = withAccount("Deadlocked Recipient", "0");
        assertThat(sender.id()).isLessThan(recipient.id());
        double retriesBefore = meters.counter("fluxgate.transfers.retries").count();
        try (Tx other = Tx.begin(connections)) {
            other.execute("SET LOCAL deadlock_timeout = '10s'");
            other.execute("SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE", recipient.id());
            java.util.concurrent.CompletableFuture<Integer> transfer = post(sender, "/api/transfers",
                    Map.of("toUserId", recipient.id(), "amount", "10.00")).toFuture();
            awaitLockWaiters(1);
            // Blocks until PostgreSQL breaks the deadlock by aborting the transfer's transaction.
            other.execute("SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE", sender.id());
            other.commit();
            assertThat(transfer.get(20, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(201);
        }
        assertThat(meters.counter("fluxgate.transfers.retries").count()).isGreaterThan(retriesBefore);
        assertThat(balance(sender)).isEqualByComparingTo("20.00");
        assertThat(balance(recipient)).isEqualByComparingTo("10.00");
    }

    private void awaitLockWaiters(int count) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (db.sql("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                        + " AND wait_event_type = 'Lock'")
                .map(row -> row.get("n", Long.class)).one().block() < count) {
            assertThat(System.nanoTime()).as("a transfer waiting on a row lock").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private Mono<Integer> post(Account as, String uri, Object body) {
        return WebClient.create("http://localhost:" + port).post().uri(uri)
                .header(HttpHeaders.AUTHORIZATION, as.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchangeToMono(response -> response.releaseBody().thenReturn(response.statusCode().value()));
    }

    private Account withAccount(String name, String opening) {
        Account user = newUser(name);
        client.post().uri("/api/accounts").header(HttpHeaders.AUTHORIZATION, user.bearer()).exchange()
                .expectStatus().isCreated();
        if (new BigDecimal(opening).signum() > 0) {
            deposit(user, opening).expectStatus().isOk();
        }
        return user;
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec deposit(Account to, String amount) {
        return client.post().uri("/api/accounts/{id}/deposit", to.id()).header(HttpHeaders.AUTHORIZATION, admin().bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of("amount", amount)).exchange();
    }

    private org.springframework.test.web.reactive.server.WebTestClient.ResponseSpec transfer(Account from, long to,
            Object amount, String key) {
        Map<String, Object> body = new java.util.HashMap<>(Map.of("toUserId", to, "amount", amount));
        if (key != null) {
            body.put("idempotencyKey", key);
        }
        return client.post().uri("/api/transfers").header(HttpHeaders.AUTHORIZATION, from.bearer())
                .contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange();
    }

    private BigDecimal balance(Account account) {
        String balance = get(account, "/api/accounts/me").exchange().expectStatus().isOk()
                .expectBody(JsonNode.class).returnResult().getResponseBody().path("balance").asString();
        return new BigDecimal(balance);
    }

    private BigDecimal totalOf(List<Account> accounts) {
        return accounts.stream().map(this::balance).reduce(BigDecimal.ZERO, BigDecimal::add);
    }

    private long transferCount() {
        return db.sql("SELECT count(*) AS n FROM transfers").map(row -> row.get("n", Long.class)).one().block();
    }
}
