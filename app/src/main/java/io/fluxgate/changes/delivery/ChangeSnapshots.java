package io.fluxgate.changes.delivery;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import io.fluxgate.changes.ChangeStreamProperties;
import io.fluxgate.changes.capture.wal.SnapshotPosition;
import io.fluxgate.changes.capture.PageSize;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Channels;
import io.fluxgate.changes.hub.Position;
import io.fluxgate.security.Caller;
import io.r2dbc.postgresql.codec.Json;
import io.r2dbc.spi.ConnectionFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.r2dbc.connection.R2dbcTransactionManager;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.reactive.TransactionalOperator;
import org.springframework.transaction.support.DefaultTransactionDefinition;

/**
 * The rows of a channel's tables a caller may see, read with the change-log position they reflect,
 * from one database snapshot (a read-only REPEATABLE READ transaction on the analytics pool): every
 * commit at or before the position is in the rows, none after it (see {@link SnapshotPosition}).
 */
@Component
public class ChangeSnapshots implements SnapshotReader {

    public static final int PAGE = 500;

    /** What a snapshot yields: pages of rows, then the position they reflect; or why it was refused. */
    public sealed interface Piece {
    }

    record Rows(String table, List<ObjectNode> rows) implements Piece {
    }

    record End(Position position) implements Piece {
    }

    /** Not taken; {@code reason} says why, for the client. */
    record Refused(String reason) implements Piece {
    }

    /** One table of a channel, with the condition that limits it to what the caller may see. */
    private record Source(String table, String hidden, String visibleTo) {

        String where(Caller caller) {
            return visibleTo == null || Channels.seesAll(channelOf(table), caller.admin()) ? "true" : visibleTo;
        }
    }

    private static final List<Source> USERS = List.of(new Source("users", "'password' - 'token_version'", "t.id = $2"));
    private static final List<Source> POSTS = List.of(new Source("posts", null, null));
    private static final List<Source> ACCOUNTS = List.of(
            new Source("accounts", null, "t.user_id = $2"),
            new Source("transfers", "'idempotency_key'", "(t.from_user_id = $2 OR t.to_user_id = $2)"));

    private final DatabaseClient db;
    private final TransactionalOperator snapshot;
    private final ChangeFrames frames;
    private final long maxRows;
    private final Duration timeout;
    private final PageSize pageSize;
    /** Each snapshot reading holds an analytics connection and a database snapshot open. */
    private final SnapshotSlots slots;
    private final SnapshotPosition positions;

    ChangeSnapshots(@Qualifier("analyticsConnectionFactory") ConnectionFactory analytics,
            @Qualifier("analyticsDatabaseClient") DatabaseClient db, ChangeFrames frames,
            ChangeStreamProperties properties, SnapshotPosition positions) {
        this.db = db;
        this.positions = positions;
        this.frames = frames;
        this.maxRows = properties.snapshotMaxRows();
        this.timeout = properties.snapshotTimeout();
        this.pageSize = new PageSize(PAGE, properties.replayBatchBytes().toBytes());
        // As many may wait as may read, times the sessions one user may hold: enough for every fair use.
        this.slots = new SnapshotSlots(properties.maxConcurrentSnapshots(), properties.maxConcurrentSnapshotsPerUser(),
                properties.maxConcurrentSnapshots() * properties.maxSessionsPerUser(), properties.snapshotQueueTimeout());
        DefaultTransactionDefinition definition = new DefaultTransactionDefinition();
        definition.setIsolationLevel(TransactionDefinition.ISOLATION_REPEATABLE_READ);
        definition.setReadOnly(true);
        this.snapshot = TransactionalOperator.create(new R2dbcTransactionManager(analytics), definition);
    }

    static boolean covers(String channel) {
        return Channels.DATABASE.contains(channel);
    }

    /**
     * The rows of {@code channel} the caller may see that pass {@code filter} (null: all), narrowed to
     * {@code columns} (null: all), page by page as they are consumed, then {@link End}. Refused before
     * any row is read when the caller may see more rows than the configured bound, or when no slot of
     * this replica's comes free for the caller in time (see {@link SnapshotSlots}). A snapshot holds a
     * connection and a database snapshot open, so one that takes longer than the timeout (a client
     * that does not read) fails and lets both go.
     */
    @Override
    public Flux<Piece> read(String channel, Caller caller, RowFilter filter, Set<String> columns) {
        return slots.acquire(caller.id())
                .flatMapMany(slot -> Flux.defer(() -> reading(channel, caller, filter, columns))
                        .timeout(timeout)
                        .doFinally(signal -> slot.release()))
                .onErrorResume(SnapshotSlots.Unavailable.class,
                        busy -> Flux.just(new Refused("Too many snapshots are being taken; try again shortly.")));
    }

    /** Snapshots reading now on this replica. */
    public int running() {
        return slots.running();
    }

    private Flux<Piece> reading(String channel, Caller caller, RowFilter filter, Set<String> columns) {
        List<Source> sources = switch (channel) {
            case Channels.USERS -> USERS;
            case Channels.POSTS -> POSTS;
            case Channels.ACCOUNTS -> ACCOUNTS;
            default -> throw new IllegalArgumentException("No snapshot of " + channel);
        };
        // The log position is read first: the transaction's snapshot is taken by its first query.
        Flux<Piece> reading = positions.of(db).flatMapMany(position -> Flux.fromIterable(sources)
                .concatMap(source -> count(source, caller))
                .reduce(0L, Long::sum)
                .flatMapMany(total -> total > maxRows
                        ? Flux.<Piece>just(new Refused("The channel holds " + total + " rows you may see, more"
                                + " than a snapshot may cover (" + maxRows + "); subscribe without one."))
                        : Flux.fromIterable(sources)
                                .concatMap(source -> pages(source, caller, filter, columns))
                                .concatWithValues(new End(position))));
        // A snapshot no single log position describes is taken again: its position is known before any row is sent.
        return snapshot.transactional(reading)
                .retryWhen(Retry.backoff(8, Duration.ofMillis(10)).maxBackoff(Duration.ofMillis(500))
                        .filter(SnapshotPosition.Inverted.class::isInstance));
    }

    private Mono<Long> count(Source source, Caller caller) {
        String where = source.where(caller);
        DatabaseClient.GenericExecuteSpec spec = db.sql("SELECT count(*) AS n FROM " + source.table() + " t WHERE "
                + where.replace("$2", "$1"));
        if (where.contains("$2")) {
            spec = spec.bind(0, caller.id());
        }
        return spec.map(row -> row.get("n", Long.class)).one();
    }

    /**
     * The table in pages by id, each filtered and narrowed; pages left empty by the filter are skipped.
     * A page ends at {@link #PAGE} rows or once its rows weigh the batch's bytes.
     */
    private Flux<Piece> pages(Source source, Caller caller, RowFilter filter, Set<String> columns) {
        return page(source, caller, 0).expand(page -> page.last() ? Mono.empty()
                        : page(source, caller, page.lastRow().id()))
                .map(page -> {
                    List<ObjectNode> kept = new ArrayList<>(page.rows().size());
                    for (RawRow row : page.rows()) {
                        ObjectNode data = frames.row(row.json());
                        if (filter == null || filter.test(data)) {
                            kept.add(frames.project(data, columns));
                        }
                    }
                    return kept;
                })
                .filter(kept -> !kept.isEmpty())
                .map(kept -> new Rows(source.table(), kept));
    }

    private record RawRow(long id, String json) {

        /** About as an event of the row would be weighed: its text three times over once parsed and framed. */
        long weight() {
            return 3L * json.length() + 1024;
        }
    }

    private Mono<PageSize.Page<RawRow>> page(Source source, Caller caller, long afterId) {
        return pageSize.read(limit -> rows(source, caller, afterId, limit), RawRow::weight);
    }

    private Flux<RawRow> rows(Source source, Caller caller, long afterId, int limit) {
        String where = source.where(caller);
        String row = source.hidden() == null ? "to_jsonb(t)" : "to_jsonb(t) - " + source.hidden();
        DatabaseClient.GenericExecuteSpec spec = db.sql("SELECT t.id, " + row + " AS row FROM " + source.table()
                        + " t WHERE t.id > $1 AND " + where + " ORDER BY t.id LIMIT " + limit)
                .bind(0, afterId);
        if (where.contains("$2")) {
            spec = spec.bind(1, caller.id());
        }
        return spec.map(r -> new RawRow(r.get("id", Long.class), r.get("row", Json.class).asString())).all();
    }

    private static String channelOf(String table) {
        return switch (table) {
            case "users" -> Channels.USERS;
            case "posts" -> Channels.POSTS;
            default -> Channels.ACCOUNTS;
        };
    }
}
