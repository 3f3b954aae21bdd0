package io.fluxgate.changes;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.r2dbc.postgresql.codec.Json;
import io.r2dbc.spi.Readable;

import org.springframework.r2dbc.core.DatabaseClient;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * Reads the change log in commit order. Only committed transactions have a {@code change_commit}
 * row, and they get them in commit order, so "after position P" never skips a late committer.
 */
final class ChangeLogReader {

    private static final String SELECT = "SELECT c.commit_seq, l.id, l.channel, l.table_name, l.operation,"
            + " l.row_data, l.user_ids, c.committed_at"
            + " FROM change_commit c JOIN change_log l ON l.tx_id = c.tx_id"
            + " WHERE c.commit_seq >= $1 AND (c.commit_seq > $1 OR l.id > $2)";
    private static final String ORDER = " ORDER BY c.commit_seq, l.id LIMIT $3";

    private final DatabaseClient db;
    private final ChangeEventMapper mapper;
    private final int batch;

    ChangeLogReader(DatabaseClient db, ChangeEventMapper mapper, int batch) {
        this.db = db;
        this.mapper = mapper;
        this.batch = batch;
    }

    /** What a reader may ask for: any channel in {@code channels}, or anything related to {@code userId}. */
    record Filter(List<String> channels, Long userId, Position upTo) {

        static final Filter EVERYTHING = new Filter(null, null, null);
    }

    /**
     * Every matching event after {@code from}, page by page: the next page is read only when the
     * previous one is being consumed, so a slow consumer never makes this hold more than two pages.
     */
    Flux<ChangeEvent> after(Position from, Filter filter) {
        return page(from, filter).collectList()
                .expand(rows -> rows.size() < batch ? Mono.empty()
                        : page(rows.get(rows.size() - 1).position(), filter).collectList())
                .concatMapIterable(rows -> rows, 1);
    }

    private Flux<ChangeEvent> page(Position from, Filter filter) {
        StringBuilder sql = new StringBuilder(SELECT);
        List<Object> binds = new ArrayList<>(List.of(from.commitSeq(), from.logId(), batch));
        if (filter.channels() != null || filter.userId() != null) {
            List<String> clauses = new ArrayList<>();
            if (filter.channels() != null && !filter.channels().isEmpty()) {
                binds.add(filter.channels().toArray(String[]::new));
                clauses.add("l.channel = ANY($" + binds.size() + ")");
            }
            if (filter.userId() != null) {
                binds.add(filter.userId());
                clauses.add("$" + binds.size() + " = ANY(l.user_ids)");
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

    /** The newest position in the log, or the origin when it is empty. */
    Mono<Position> head() {
        return db.sql("SELECT c.commit_seq, (SELECT max(l.id) FROM change_log l WHERE l.tx_id = c.tx_id) AS id"
                        + " FROM change_commit c ORDER BY c.commit_seq DESC LIMIT 1")
                .map(row -> new Position(row.get("commit_seq", Long.class), row.get("id", Long.class)))
                .one()
                .defaultIfEmpty(Position.ORIGIN);
    }

    /** Commits at or below this sequence have been pruned. */
    Mono<Long> prunedThrough() {
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
        return mapper.toEvent(
                new Position(row.get("commit_seq", Long.class), row.get("id", Long.class)),
                row.get("channel", String.class),
                row.get("table_name", String.class),
                row.get("operation", String.class),
                row.get("row_data", Json.class).asString(),
                userIds,
                row.get("committed_at", Instant.class));
    }
}
