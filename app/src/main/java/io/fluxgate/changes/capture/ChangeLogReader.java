package io.fluxgate.changes.capture;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.fluxgate.changes.hub.ChangeEvent;
import io.fluxgate.changes.hub.ChangeFrames;
import io.fluxgate.changes.hub.Position;
import io.r2dbc.postgresql.codec.Json;
import io.r2dbc.spi.Readable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import org.springframework.r2dbc.core.DatabaseClient;

/**
 * Reads the change log in commit order. Only committed transactions have a {@code change_commit}
 * row, and they get them in commit order, so "after position P" never skips a late committer.
 */
public final class ChangeLogReader implements ChangeLog {

    private static final String EVENTS = "SELECT c.commit_seq, l.id, l.channel, l.table_name, l.operation,"
            + " l.row_data, l.user_ids, c.committed_at"
            + " FROM change_commit c JOIN change_log l ON l.tx_id = c.tx_id";
    private static final String SELECT = EVENTS + " WHERE c.commit_seq >= $1 AND (c.commit_seq > $1 OR l.id > $2)";
    /**
     * Everything after a position (what the listener reads on every wake-up): the commits first, at
     * most one more than the rows asked for (every commit has an entry, and the first may have none
     * left), then each one's entries through the index ({@code OFFSET 0} keeps that a lookup per
     * commit, which the planner cannot turn into a join over the whole log). Joined plainly, the
     * generic plan PostgreSQL may keep for the prepared statement hashes the whole log on every read.
     */
    static final String SELECT_ALL = "SELECT c.commit_seq, l.id, l.channel, l.table_name, l.operation,"
            + " l.row_data, l.user_ids, c.committed_at"
            + " FROM (SELECT commit_seq, tx_id, committed_at FROM change_commit WHERE commit_seq >= $1"
            + " ORDER BY commit_seq LIMIT $3 + 1) c"
            + " CROSS JOIN LATERAL (SELECT e.id, e.channel, e.table_name, e.operation, e.row_data, e.user_ids"
            + " FROM change_log e WHERE e.tx_id = c.tx_id OFFSET 0) l"
            + " WHERE (c.commit_seq > $1 OR l.id > $2)";
    static final String ORDER = " ORDER BY c.commit_seq, l.id LIMIT $3";
    private static final String AT = EVENTS + " WHERE c.commit_seq = $1 AND l.id = $2";

    private final DatabaseClient db;
    private final ChangeFrames frames;
    private final PageSize pageSize;

    public ChangeLogReader(DatabaseClient db, ChangeFrames frames, int batch, long batchBytes) {
        this.db = db;
        this.frames = frames;
        this.pageSize = new PageSize(batch, batchBytes);
    }

    /**
     * Every matching event after {@code from}, page by page: the next page is read only when the
     * previous one is being consumed, so a slow consumer never makes this hold more than two pages.
     * A page ends at the batch size or once its events weigh the batch's bytes, whichever comes first
     * (and asks for about as many rows as fit, see {@link PageSize}).
     */
    @Override
    public Flux<ChangeEvent> after(Position from, Filter filter) {
        return page(from, filter)
                .expand(page -> page.last() ? Mono.empty() : page(page.lastRow().position(), filter))
                .concatMapIterable(PageSize.Page::rows, 1);
    }

    private Mono<PageSize.Page<ChangeEvent>> page(Position from, Filter filter) {
        return pageSize.read(rows -> query(from, filter, rows), ChangeEvent::weight);
    }

    private Flux<ChangeEvent> query(Position from, Filter filter, int rows) {
        boolean everything = filter.channels() == null && filter.userId() == null;
        StringBuilder sql = new StringBuilder(everything ? SELECT_ALL : SELECT);
        List<Object> binds = new ArrayList<>(List.of(from.commitSeq(), from.logId(), rows));
        if (!everything) {
            List<String> clauses = new ArrayList<>();
            if (filter.channels() != null && !filter.channels().isEmpty()) {
                binds.add(filter.channels().toArray(String[]::new));
                clauses.add("l.channel = ANY($" + binds.size() + ")");
            }
            if (filter.userId() != null) {
                // Containment, so the GIN index on user_ids finds a user's few events in a long log.
                binds.add(new Long[] {filter.userId()});
                String related = "l.user_ids @> $" + binds.size() + "::bigint[]";
                if (filter.relatedChannels() != null) {
                    binds.add(filter.relatedChannels().toArray(String[]::new));
                    related += " AND l.channel = ANY($" + binds.size() + ")";
                }
                clauses.add("(" + related + ")");
            }
            sql.append(clauses.isEmpty() ? " AND false" : " AND (" + String.join(" OR ", clauses) + ")");
        }
        if (filter.upTo() != null) {
            binds.add(filter.upTo().commitSeq());
            int seq = binds.size();
            binds.add(filter.upTo().logId());
            sql.append(" AND (c.commit_seq < $").append(seq).append(" OR (c.commit_seq = $").append(seq)
                    .append(" AND l.id <= $").append(binds.size()).append("))");
        }
        sql.append(ORDER);
        DatabaseClient.GenericExecuteSpec spec = db.sql(sql.toString());
        for (int i = 0; i < binds.size(); i++) {
            spec = spec.bind(i, binds.get(i));
        }
        return spec.map(this::toEvent).all();
    }

    /** The logged event at exactly {@code position}; empty when the log does not hold it (now). */
    public Mono<ChangeEvent> at(Position position) {
        return db.sql(AT).bind(0, position.commitSeq()).bind(1, position.logId()).map(this::toEvent).one();
    }

    /** The newest position in the log, or the origin when it is empty. */
    @Override
    public Mono<Position> head() {
        return head(db);
    }

    /** The newest position in the log as {@code db} sees it (in a transaction: as its snapshot does). */
    public static Mono<Position> head(DatabaseClient db) {
        return db.sql("SELECT c.commit_seq, (SELECT max(l.id) FROM change_log l WHERE l.tx_id = c.tx_id) AS id"
                        + " FROM change_commit c ORDER BY c.commit_seq DESC LIMIT 1")
                .map(row -> new Position(row.get("commit_seq", Long.class), row.get("id", Long.class)))
                .one()
                .defaultIfEmpty(Position.ORIGIN);
    }

    /** Commits at or below this sequence have been pruned. */
    @Override
    public Mono<Long> prunedThrough() {
        return db.sql("SELECT pruned_through FROM change_log_horizon")
                .map(row -> row.get("pruned_through", Long.class))
                .one()
                .defaultIfEmpty(0L);
    }

    private ChangeEvent toEvent(Readable row) {
        Long[] users = row.get("user_ids", Long[].class);
        long[] userIds = new long[users == null ? 0 : users.length];
        for (int i = 0; i < userIds.length; i++) {
            userIds[i] = users[i];
        }
        return frames.logged(
                new Position(row.get("commit_seq", Long.class), row.get("id", Long.class)),
                row.get("channel", String.class),
                row.get("table_name", String.class),
                row.get("operation", String.class),
                row.get("row_data", Json.class).asString(),
                userIds,
                row.get("committed_at", Instant.class));
    }
}
