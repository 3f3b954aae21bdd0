package io.fluxgate.accounts;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;

import io.fluxgate.db.NamedQuery;
import io.r2dbc.spi.Readable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.r2dbc.core.Parameter;
import org.springframework.stereotype.Repository;

/** Every accounts and transfers query. Values are bind parameters only. */
@Repository
class AccountRepository implements NamedQuery.Source {

    private static final String ACCOUNT_COLUMNS = "user_id, balance, currency";
    private static final String TRANSFER_COLUMNS = "id, from_user_id, to_user_id, amount, type, created_at";

    /**
     * A user's transfers, newest first, below a cursor id. Two index scans (sent, received) merged:
     * a row is never both, since a transfer's sides differ.
     */
    static final String TRANSFERS_PAGE = "SELECT " + TRANSFER_COLUMNS + " FROM ("
            + " (SELECT " + TRANSFER_COLUMNS + " FROM transfers WHERE from_user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3)"
            + " UNION ALL"
            + " (SELECT " + TRANSFER_COLUMNS + " FROM transfers WHERE to_user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3)"
            + ") AS mine ORDER BY id DESC LIMIT $3";

    private final DatabaseClient db;

    AccountRepository(DatabaseClient db) {
        this.db = db;
    }

    /** The new account, or empty when the user already has one. */
    Mono<Account> open(long userId) {
        return db.sql("INSERT INTO accounts (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING"
                        + " RETURNING " + ACCOUNT_COLUMNS)
                .bind(0, userId)
                .map(AccountRepository::toAccount)
                .one();
    }

    Mono<Account> find(long userId) {
        return db.sql("SELECT " + ACCOUNT_COLUMNS + " FROM accounts WHERE user_id = $1")
                .bind(0, userId)
                .map(AccountRepository::toAccount)
                .one();
    }

    /** Credits the account and records the deposit in one statement; empty when there is no account. */
    Mono<Account> deposit(long userId, BigDecimal amount) {
        return db.sql("WITH credited AS (UPDATE accounts SET balance = balance + $2 WHERE user_id = $1"
                        + " RETURNING " + ACCOUNT_COLUMNS + "),"
                        + " recorded AS (INSERT INTO transfers (to_user_id, amount, type)"
                        + " SELECT user_id, $2, 'deposit' FROM credited)"
                        + " SELECT " + ACCOUNT_COLUMNS + " FROM credited")
                .bind(0, userId).bind(1, amount)
                .map(AccountRepository::toAccount)
                .one();
    }

    /**
     * Locks both accounts for the rest of the transaction, always lower user id first, so two
     * opposite transfers queue behind each other instead of deadlocking. Missing accounts are absent.
     */
    Flux<Balance> lockPair(long a, long b) {
        return db.sql("SELECT user_id, balance FROM accounts WHERE user_id IN ($1, $2) ORDER BY user_id FOR UPDATE")
                .bind(0, a).bind(1, b)
                .map(row -> new Balance(row.get("user_id", Long.class), row.get("balance", BigDecimal.class)))
                .all();
    }

    record Balance(long userId, BigDecimal balance) {
    }

    /** Debits, credits and records the transfer in one statement; call with both accounts locked. */
    Mono<Transfer> move(long from, long to, BigDecimal amount, String idempotencyKey) {
        return db.sql("WITH moved AS (UPDATE accounts"
                        + " SET balance = balance + CASE WHEN user_id = $1 THEN -$3::numeric ELSE $3::numeric END"
                        + " WHERE user_id IN ($1, $2) RETURNING user_id)"
                        + " INSERT INTO transfers (from_user_id, to_user_id, amount, type, idempotency_key)"
                        + " SELECT $1, $2, $3, 'transfer', $4 WHERE (SELECT count(*) FROM moved) = 2"
                        + " RETURNING " + TRANSFER_COLUMNS)
                .bind(0, from).bind(1, to).bind(2, amount)
                .bind(3, Parameter.fromOrEmpty(idempotencyKey, String.class))
                .map(AccountRepository::toTransfer)
                .one();
    }

    Mono<Transfer> findByIdempotencyKey(long from, String idempotencyKey) {
        return db.sql("SELECT " + TRANSFER_COLUMNS + " FROM transfers WHERE from_user_id = $1 AND idempotency_key = $2")
                .bind(0, from).bind(1, idempotencyKey)
                .map(AccountRepository::toTransfer)
                .one();
    }

    /** {@code limit + 1} of the user's transfers below the cursor id, newest first. */
    Flux<Transfer> transfersBefore(long userId, long beforeId, int limit) {
        return db.sql(TRANSFERS_PAGE)
                .bind(0, userId).bind(1, beforeId).bind(2, limit + 1)
                .map(AccountRepository::toTransfer)
                .all();
    }

    @Override
    public List<NamedQuery> namedQueries() {
        return List.of(new NamedQuery("transfers-page", "A user's transfers, newest first (keyset page)",
                TRANSFERS_PAGE, List.of(1L, Long.MAX_VALUE, 51)));
    }

    private static Account toAccount(Readable row) {
        return Account.of(row.get("user_id", Long.class), row.get("balance", BigDecimal.class),
                row.get("currency", String.class));
    }

    private static Transfer toTransfer(Readable row) {
        return Transfer.of(row.get("id", Long.class), row.get("from_user_id", Long.class), row.get("to_user_id", Long.class),
                row.get("amount", BigDecimal.class), row.get("type", String.class), row.get("created_at", Instant.class));
    }
}
