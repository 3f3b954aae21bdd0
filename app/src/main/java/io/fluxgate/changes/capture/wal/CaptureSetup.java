package io.fluxgate.changes.capture.wal;

import java.util.List;

import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.spi.Readable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * What each capture mode needs of the database, made so on start (every step idempotent, so
 * replicas starting together may all run it):
 * <ul>
 * <li>logical: the publication of the captured tables (and of {@code change_commit}, which tells a
 * transaction the triggers logged), their old rows in the WAL ({@code REPLICA IDENTITY FULL}), the
 * slot, and only then the capture triggers disabled, so no commit falls between the two modes.
 * A slot that vanished or was invalidated while the triggers were off is a gap: it is recreated,
 * and the change log's horizon moves to its head, so clients resuming from before are told to
 * resync rather than silently missing what was never captured.</li>
 * <li>triggers: the capture triggers enabled (before a slot left by logical mode is drained).</li>
 * </ul>
 * Which tables are captured is read from their capture triggers, the one place it is declared.
 */
final class CaptureSetup {

    private static final Logger log = LoggerFactory.getLogger(CaptureSetup.class);

    /** One captured table and its capture trigger. */
    record Captured(String table, String trigger, boolean enabled) {
    }

    /** The slot as the server reports it. */
    record Slot(boolean exists, boolean lost) {
    }

    private final PostgresqlConnection connection;
    private final String slot;
    private final String publication;

    CaptureSetup(PostgresqlConnection connection, String slot, String publication) {
        this.connection = connection;
        this.slot = slot;
        this.publication = publication;
    }

    Mono<List<Captured>> captured() {
        return rows("SELECT t.tgrelid::regclass::text AS tbl, t.tgname, t.tgenabled <> 'D' AS enabled"
                        + " FROM pg_trigger t WHERE t.tgfoid = 'change_log_capture'::regproc ORDER BY 1",
                row -> new Captured(row.get("tbl", String.class), row.get("tgname", String.class),
                        row.get("enabled", Boolean.class)))
                .collectList();
    }

    Mono<Slot> slot() {
        return rows("SELECT wal_status = 'lost' AS lost FROM pg_replication_slots WHERE slot_name = '" + slot + "'",
                row -> new Slot(true, Boolean.TRUE.equals(row.get("lost", Boolean.class))))
                .next().defaultIfEmpty(new Slot(false, false));
    }

    /**
     * Logical mode: publication, old rows, slot, then triggers off. Emits true when the slot had to
     * be made again while the triggers were already off (a gap, already reported on the horizon).
     */
    Mono<Boolean> forLogical() {
        return execute("SET lock_timeout = '5s'")
                .then(captured())
                .flatMap(tables -> publication(tables)
                        .then(replicaIdentity(tables))
                        .then(slot())
                        .flatMap(state -> {
                            boolean triggersOff = tables.stream().noneMatch(Captured::enabled);
                            if (state.exists() && !state.lost()) {
                                return Mono.just(false);
                            }
                            Mono<Void> drop = state.lost() ? execute("SELECT pg_drop_replication_slot('" + slot + "')")
                                    : Mono.empty();
                            return drop.then(execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')"))
                                    .then(triggersOff ? gap(state) : Mono.just(false));
                        })
                        .flatMap(gap -> setTriggers(tables, false).thenReturn(gap)));
    }

    /** Trigger mode: every capture trigger on. Emits whether a slot is left to drain. */
    Mono<Boolean> forTriggers() {
        return execute("SET lock_timeout = '5s'")
                .then(captured())
                .flatMap(tables -> setTriggers(tables, true))
                .then(slot())
                .map(Slot::exists);
    }

    Mono<Void> dropSlot() {
        return execute("SELECT pg_drop_replication_slot('" + slot + "')");
    }

    private Mono<Void> publication(List<Captured> tables) {
        String list = String.join(", ", tables.stream().map(Captured::table).toList()) + ", change_commit";
        return rows("SELECT count(*) AS n FROM pg_publication_tables WHERE pubname = '" + publication + "'",
                row -> row.get("n", Long.class))
                .next()
                .flatMap(count -> rows("SELECT 1 FROM pg_publication WHERE pubname = '" + publication + "'", row -> 1)
                        .hasElements()
                        .flatMap(exists -> !exists ? execute("CREATE PUBLICATION " + publication + " FOR TABLE " + list)
                                : count == tables.size() + 1 ? Mono.empty()
                                : execute("ALTER PUBLICATION " + publication + " SET TABLE " + list)));
    }

    private Mono<Void> replicaIdentity(List<Captured> tables) {
        return Flux.fromIterable(tables)
                .concatMap(table -> rows("SELECT relreplident FROM pg_class WHERE oid = '" + table.table() + "'::regclass",
                        row -> row.get("relreplident", String.class))
                        .next()
                        .filter(identity -> !"f".equals(identity))
                        .flatMap(identity -> execute("ALTER TABLE " + table.table() + " REPLICA IDENTITY FULL")))
                .then();
    }

    private Mono<Void> setTriggers(List<Captured> tables, boolean enabled) {
        return Flux.fromIterable(tables)
                .filter(table -> table.enabled() != enabled)
                .concatMap(table -> execute("ALTER TABLE " + table.table() + (enabled ? " ENABLE" : " DISABLE")
                        + " TRIGGER " + table.trigger()))
                .then();
    }

    private Mono<Boolean> gap(Slot was) {
        log.error("Capture slot {} was {} while the capture triggers were off: changes committed meanwhile were"
                + " not captured. Recreated; clients resuming from before now are told to resync.", slot,
                was.lost() ? "invalidated by the server" : "dropped");
        return execute("UPDATE change_log_horizon SET pruned_through = greatest(pruned_through,"
                + " (SELECT coalesce(max(commit_seq), 0) FROM change_commit))").thenReturn(true);
    }

    private Mono<Void> execute(String sql) {
        return connection.createStatement(sql).execute().flatMap(result -> result.map(row -> 1)).then();
    }

    private <T> Flux<T> rows(String sql, java.util.function.Function<Readable, T> mapper) {
        return connection.createStatement(sql).execute().flatMap(result -> result.map(mapper::apply));
    }
}
