package io.fluxgate.changes.capture;

import java.time.Instant;

import io.fluxgate.changes.ChangeStreamProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.r2dbc.core.DatabaseClient;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/**
 * Prunes the change log: commits older than the retention, and all but the newest
 * {@code retention-max-commits}, go in one statement, and the horizon moves up so a client resuming
 * from before it is told to resync instead of silently missing events.
 */
@Component
public class ChangeLogRetention {

    private static final Logger log = LoggerFactory.getLogger(ChangeLogRetention.class);

    private static final String PRUNE = """
            WITH cutoff AS (
                SELECT greatest(
                    coalesce((SELECT max(commit_seq) FROM change_commit WHERE committed_at < $1), 0),
                    coalesce((SELECT max(commit_seq) FROM change_commit), 0) - $2) AS through
            ), gone AS (
                DELETE FROM change_commit c USING cutoff WHERE c.commit_seq <= cutoff.through RETURNING c.tx_id
            ), rows AS (
                DELETE FROM change_log l USING gone WHERE l.tx_id = gone.tx_id RETURNING 1
            )
            UPDATE change_log_horizon
               SET pruned_through = greatest(pruned_through, (SELECT through FROM cutoff))
            RETURNING (SELECT count(*) FROM rows) AS pruned_rows, pruned_through
            """;

    private final DatabaseClient db;
    private final ChangeStreamProperties properties;

    ChangeLogRetention(@Qualifier("analyticsDatabaseClient") DatabaseClient db, ChangeStreamProperties properties) {
        this.db = db;
        this.properties = properties;
    }

    @Scheduled(fixedDelayString = "${fluxgate.changes.prune-interval}",
            initialDelayString = "${fluxgate.changes.prune-interval}")
    Mono<Void> pruneOnSchedule() {
        return prune(Instant.now().minus(properties.retention()), properties.retentionMaxCommits())
                .doOnNext(pruned -> {
                    if (pruned.rows() > 0) {
                        log.info("Pruned {} change-log rows; the log now starts after commit {}", pruned.rows(),
                                pruned.through());
                    }
                })
                .onErrorResume(e -> {
                    log.warn("Change-log pruning failed: {}", e.toString());
                    return Mono.empty();
                })
                .then();
    }

    public Mono<Pruned> prune(Instant olderThan, long keepCommits) {
        return db.sql(PRUNE)
                .bind(0, olderThan).bind(1, keepCommits)
                .map(row -> new Pruned(row.get("pruned_rows", Long.class), row.get("pruned_through", Long.class)))
                .one();
    }

    record Pruned(long rows, long through) {
    }
}
