package io.fluxgate.changes.capture.wal;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import io.r2dbc.postgresql.api.PostgresqlConnection;
import io.r2dbc.spi.Readable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * What each capture mode needs of the database (every step idempotent, so replicas starting together
 * may all run it):
 * <ul>
 * <li>logical, before leading: the publication of the captured tables (and of {@code change_commit},
 * which tells a transaction the triggers logged), their old rows in the WAL ({@code REPLICA IDENTITY
 * FULL}), and the slot. A slot that vanished or was invalidated while a trigger was off is a gap: it is
 * recreated, and the change log's horizon moves to its head, so clients resuming from before are told
 * to resync rather than silently missing what was never captured. Only the replica that then holds the
 * slot turns the triggers off ({@link #triggers}), so a replica that is not leading never changes them.</li>
 * <li>triggers: every capture trigger on (before a slot left by logical mode is drained).</li>
 * </ul>
 * Which tables are captured is read from their capture triggers, the one place it is declared. The
 * triggers change together, in one transaction holding all the captured tables, so no transaction
 * that writes several of them is logged half by triggers and half by the decoder.
 */
final class CaptureSetup {

    private static final Logger log = LoggerFactory.getLogger(CaptureSetup.class);

    /** One captured table (as a quoted, qualified name) and its capture trigger (quoted). */
    record Captured(String table, String trigger, boolean enabled, boolean fullIdentity) {
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
        return rows("SELECT t.tgrelid::regclass::text AS tbl, quote_ident(t.tgname) AS trg, t.tgenabled <> 'D' AS enabled,"
                        + " c.relreplident = 'f' AS full_identity"
                        + " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                        + " WHERE t.tgfoid = 'change_log_capture'::regproc ORDER BY 1",
                row -> new Captured(row.get("tbl", String.class), row.get("trg", String.class),
                        row.get("enabled", Boolean.class), row.get("full_identity", Boolean.class)))
                .collectList();
    }

    /**
     * Logical mode, before leading: publication, old rows, slot. Emits true when the slot had to be
     * made again while a trigger was off (a gap, already reported on the horizon).
     */
    Mono<Boolean> forLogical() {
        return execute("SET lock_timeout = '5s'")
                .then(execute("SET synchronous_commit = on"))
                .then(captured())
                .flatMap(tables -> tables.isEmpty() ? Mono.error(new IllegalStateException("No table has a capture trigger"))
                        : publication(tables)
                                .then(replicaIdentity(tables))
                                .then(slot(tables.stream().anyMatch(table -> !table.enabled()))));
    }

    /** Trigger mode: every capture trigger on. Emits whether a slot is left to drain. */
    Mono<Boolean> forTriggers() {
        return execute("SET lock_timeout = '5s'")
                .then(execute("SET synchronous_commit = on"))
                .then(captured())
                .flatMap(tables -> triggers(tables, true))
                .then(rows("SELECT 1 FROM pg_replication_slots WHERE slot_name = '" + slot + "'", row -> 1).hasElements());
    }

    /** Turns every capture trigger on or off, all together. */
    Mono<Void> triggers(boolean enabled) {
        return captured().flatMap(tables -> triggers(tables, enabled));
    }

    Mono<Void> dropSlot() {
        return execute("SELECT pg_drop_replication_slot('" + slot + "')");
    }

    private Mono<Void> triggers(List<Captured> tables, boolean enabled) {
        List<Captured> changing = tables.stream().filter(table -> table.enabled() != enabled).toList();
        if (changing.isEmpty()) {
            return Mono.empty();
        }
        String all = String.join(", ", tables.stream().map(Captured::table).toList());
        StringBuilder sql = new StringBuilder("BEGIN; LOCK TABLE ").append(all).append(" IN SHARE ROW EXCLUSIVE MODE;");
        for (Captured table : changing) {
            sql.append(" ALTER TABLE ").append(table.table()).append(enabled ? " ENABLE" : " DISABLE")
                    .append(" TRIGGER ").append(table.trigger()).append(';');
        }
        sql.append(" COMMIT;");
        log.info("Change capture: capture triggers {} on {}", enabled ? "enabled" : "disabled", all);
        return execute(sql.toString()).onErrorResume(failed -> execute("ROLLBACK").then(Mono.error(failed)));
    }

    /** The slot as the server reports it. */
    private record Slot(boolean exists, boolean ours, boolean lost) {
    }

    /** The slot, made if missing or invalidated; true when that is a gap. */
    private Mono<Boolean> slot(boolean aTriggerIsOff) {
        return rows("SELECT database = current_database() AS ours, wal_status = 'lost' AS lost FROM pg_replication_slots"
                        + " WHERE slot_name = '" + slot + "'",
                row -> new Slot(true, Boolean.TRUE.equals(row.get("ours", Boolean.class)),
                        Boolean.TRUE.equals(row.get("lost", Boolean.class))))
                .next()
                .defaultIfEmpty(new Slot(false, true, false))
                .flatMap(state -> {
                    if (!state.ours()) {
                        return Mono.error(new IllegalStateException("The replication slot " + slot
                                + " belongs to another database; set fluxgate.changes.capture.slot"));
                    }
                    if (state.exists() && !state.lost()) {
                        return Mono.just(false);
                    }
                    Mono<Void> drop = state.lost() ? execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                            + " WHERE slot_name = '" + slot + "' AND wal_status = 'lost'") : Mono.empty();
                    return drop.then(execute("SELECT pg_create_logical_replication_slot('" + slot + "', 'pgoutput')"))
                            .then(aTriggerIsOff ? gap(state.lost()) : Mono.just(false));
                });
    }

    private Mono<Void> publication(List<Captured> tables) {
        Set<String> wanted = new TreeSet<>();
        tables.forEach(table -> wanted.add(table.table()));
        wanted.add("change_commit");
        String list = String.join(", ", wanted);
        return rows("SELECT 1 FROM pg_publication WHERE pubname = '" + publication + "'", row -> 1).hasElements()
                .flatMap(exists -> !exists ? execute("CREATE PUBLICATION " + publication + " FOR TABLE " + list)
                        : rows("SELECT format('%I.%I', schemaname, tablename) AS tbl FROM pg_publication_tables"
                                        + " WHERE pubname = '" + publication + "'",
                                row -> row.get("tbl", String.class))
                                .map(name -> name.startsWith("public.") ? name.substring("public.".length()) : name)
                                .collect(java.util.stream.Collectors.toCollection(TreeSet::new))
                                .flatMap(published -> published.equals(wanted) ? Mono.empty()
                                        : execute("ALTER PUBLICATION " + publication + " SET TABLE " + list)));
    }

    private Mono<Void> replicaIdentity(List<Captured> tables) {
        return Flux.fromIterable(tables)
                .filter(table -> !table.fullIdentity())
                .concatMap(table -> execute("ALTER TABLE " + table.table() + " REPLICA IDENTITY FULL"))
                .then();
    }

    private Mono<Boolean> gap(boolean lost) {
        log.error("Capture slot {} was {} while capture triggers were off: changes committed meanwhile were"
                + " not captured. Recreated; clients resuming from before now are told to resync.", slot,
                lost ? "invalidated by the server" : "dropped");
        return execute("UPDATE change_log_horizon SET pruned_through = greatest(pruned_through,"
                + " (SELECT coalesce(max(commit_seq), 0) FROM change_commit), 1)").thenReturn(true);
    }

    private Mono<Void> execute(String sql) {
        return connection.createStatement(sql).execute().flatMap(result -> result.map(row -> 1)).then();
    }

    private <T> Flux<T> rows(String sql, Function<Readable, T> mapper) {
        return connection.createStatement(sql).execute().flatMap(result -> result.map(mapper::apply));
    }
}
