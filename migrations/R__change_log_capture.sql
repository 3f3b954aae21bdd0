-- The capture rules, as they stand now: the one definition to edit, used by both capture modes.
-- Flyway runs a repeatable migration again whenever this file changes, after the versioned ones,
-- so V2 to V5 keep their historical copies untouched and this file always has the last word.
--
-- Which tables are captured, on which channel, and with which related-user columns is said once,
-- by each table's capture trigger and its arguments: the channel, then the columns holding
-- related user ids; a column prefixed with '-' is ignored when deciding whether an UPDATE changed
-- anything (activity stamps). The rules themselves are change_log_row. In trigger mode the trigger
-- runs it (through change_log_entry) in the writer's transaction; in logical mode the triggers are
-- disabled and the capture leader runs the same change_log_row, with the same arguments read from
-- the trigger, on batches of decoded rows (change_log_append_runs).
--
-- Columns that are nobody else's business never reach the change log: the password hash, the
-- token version, and a transfer's idempotency key.
-- Capture from the WAL logs each decoded transaction under its own id (tx_id, as the triggers do)
-- and records its commit LSN; unique, so a transaction appended again after a leader died before
-- confirming it is refused, not logged twice. Rows written by the triggers leave it NULL. Here
-- rather than in a versioned migration so these functions work at whatever version the schema is
-- being migrated to.
ALTER TABLE change_commit ADD COLUMN IF NOT EXISTS source_lsn pg_lsn UNIQUE;

-- change_log_entry lost its last parameter (logical mode logs whole batches, set-based, below).
DROP FUNCTION IF EXISTS change_log_entry(TEXT[], TEXT, TEXT, JSONB, JSONB, XID8);

-- The rules, in one place: what a captured row change of a table with capture arguments args
-- logs (its row data and related user ids), or no row when it logs nothing. Plain SQL, so the
-- batched append below runs it inline, row by row, within one statement.
CREATE OR REPLACE FUNCTION change_log_row(args TEXT[], op TEXT, new_row JSONB, old_row JSONB)
RETURNS TABLE (data JSONB, related BIGINT[])
LANGUAGE sql IMMUTABLE AS $$
    SELECT d.data,
           ARRAY(SELECT (d.data ->> c.col)::BIGINT FROM unnest(args[2:]) WITH ORDINALITY c(col, ord)
                  WHERE left(c.col, 1) <> '-' AND d.data ->> c.col IS NOT NULL ORDER BY c.ord)
      FROM (SELECT CASE WHEN op = 'DELETE' THEN old_row ELSE new_row END
                   - ARRAY['password', 'token_version', 'idempotency_key'] AS data,
                   ARRAY(SELECT substr(c, 2) FROM unnest(args[2:]) c WHERE left(c, 1) = '-') AS ignored) d
     -- An UPDATE that changed nothing but the ignored (activity) columns is not logged.
     WHERE NOT coalesce(op = 'UPDATE' AND cardinality(d.ignored) > 0
                        AND (d.data - d.ignored) = (old_row - ARRAY['password', 'token_version', 'idempotency_key'] - d.ignored),
                        false)
$$;

-- Trigger mode: logs one row change in the current transaction (marking its first entry).
CREATE OR REPLACE FUNCTION change_log_entry(args TEXT[], tbl TEXT, op TEXT, new_row JSONB, old_row JSONB)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    entry RECORD;
    tx    TEXT := pg_current_xact_id()::text;
    first BOOLEAN;
BEGIN
    SELECT r.data, r.related INTO entry FROM change_log_row(args, op, new_row, old_row) r;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    first := current_setting('fluxgate.logged_tx', true) IS DISTINCT FROM tx;
    IF first THEN
        PERFORM set_config('fluxgate.logged_tx', tx, true);
    END IF;
    INSERT INTO change_log (channel, table_name, operation, row_data, user_ids, first_in_tx)
    VALUES (args[1], tbl, op, entry.data, entry.related, first);
    RETURN true;
END;
$$;

-- Trigger mode: each captured row change is logged in the writer's transaction and wakes the
-- listeners (a constant payload, folded once per transaction).
CREATE OR REPLACE FUNCTION change_log_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV counts from 0; the slice counts from 1, as change_log_entry expects.
    IF change_log_entry(TG_ARGV[0:TG_NARGS - 1], TG_TABLE_NAME, TG_OP,
            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END,
            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END) THEN
        PERFORM pg_notify(TG_ARGV[0], '');
    END IF;
    RETURN NULL;
END;
$$;

-- The arguments of a table's capture trigger: channel, then related-user columns.
CREATE OR REPLACE FUNCTION change_log_capture_args(tbl REGCLASS) RETURNS TEXT[]
LANGUAGE sql STABLE AS $$
    SELECT array_remove(string_to_array(encode(t.tgargs, 'escape'), '\000'), '')
      FROM pg_trigger t
     WHERE t.tgrelid = tbl AND t.tgfoid = 'change_log_capture'::regproc
$$;

-- Logical mode: logs runs of decoded row changes, [{"tx": full xid, "rel": table OID, "rows": [...]}, ...]
-- in order, in one statement: each element of rows is {"op": ..., "n": new row, "o": old row}, rows
-- as JSON objects of the columns' text forms (json and jsonb columns as JSON), typed here through the
-- table's own row type, so row_data is exactly what to_jsonb gives in trigger mode. One dynamic query
-- per batch (a branch per table in it), not per row or per transaction. Returns the (transaction,
-- channel) pairs that logged something.
CREATE OR REPLACE FUNCTION change_log_append_runs(runs JSONB) RETURNS TABLE (tx XID8, channel TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    typed TEXT[] := '{}';
    rel   OID;
    args  TEXT[];
BEGIN
    FOR rel IN SELECT DISTINCT (r ->> 'rel')::oid FROM jsonb_array_elements(runs) r LOOP
        args := change_log_capture_args(rel::regclass);
        IF args IS NULL THEN
            -- Dropped, or no longer captured, since the decoded transaction wrote it: nothing to log it by.
            RAISE WARNING 'change_log_append: % has no capture trigger any more; its decoded rows are not logged',
                rel::regclass;
            CONTINUE;
        END IF;
        typed := typed || format('SELECT r.run, r.seq, r.tx, r.op, %L::text[] AS args, %L::text AS tbl,'
                || ' CASE WHEN r.n IS NULL THEN NULL ELSE to_jsonb(jsonb_populate_record(NULL::%s, r.n)) END AS n,'
                || ' CASE WHEN r.o IS NULL THEN NULL ELSE to_jsonb(jsonb_populate_record(NULL::%s, r.o)) END AS o'
                || ' FROM input r WHERE r.rel = %s',
                args, (SELECT c.relname FROM pg_class c WHERE c.oid = rel), rel::regclass, rel::regclass, rel);
    END LOOP;
    IF cardinality(typed) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'WITH input AS (SELECT run.ord AS run, w.ord AS seq, (run.value ->> ''tx'')::xid8 AS tx,'
        || ' (run.value ->> ''rel'')::oid AS rel, w.value ->> ''op'' AS op, w.value -> ''n'' AS n, w.value -> ''o'' AS o'
        || ' FROM jsonb_array_elements($1) WITH ORDINALITY run(value, ord),'
        || ' jsonb_array_elements(run.value -> ''rows'') WITH ORDINALITY w(value, ord)),'
        || ' logged AS (INSERT INTO change_log (tx_id, channel, table_name, operation, row_data, user_ids)'
        || ' SELECT t.tx, t.args[1], t.tbl, t.op, e.data, e.related FROM (' || array_to_string(typed, ' UNION ALL ') || ') t'
        || ' CROSS JOIN LATERAL change_log_row(t.args, t.op, t.n, t.o) e ORDER BY t.run, t.seq'
        || ' RETURNING tx_id, channel)'
        || ' SELECT DISTINCT l.tx_id, l.channel FROM logged l' USING runs;
END;
$$;

-- Logical mode, a large decoded transaction source_tx: a run of rows of one table, appended before
-- its end is known. Returns how many channels it logged to (0: nothing logged).
CREATE OR REPLACE FUNCTION change_log_append(tbl REGCLASS, rows JSONB, source_tx XID8) RETURNS INTEGER
LANGUAGE sql AS $$
    SELECT count(*)::INTEGER
      FROM change_log_append_runs(jsonb_build_array(jsonb_build_object('tx', source_tx::text, 'rel', tbl::oid, 'rows', rows)))
$$;

-- Logical mode: the decoded transaction source_tx, committed at source_lsn and committed_at, is
-- logged (its entries appended above). The leader holds the commit-order lock for its whole
-- transaction, which logs many decoded transactions in their commit order: their sequences become
-- visible together, at its commit, and no trigger-mode commit can take one in between. Wakes the
-- listeners (folded to one NOTIFY per leader transaction).
CREATE OR REPLACE FUNCTION change_log_commit_source(source_tx XID8, source_lsn PG_LSN, committed_at TIMESTAMPTZ)
RETURNS VOID
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7331746175);  -- 'fluxgate' change stream
    INSERT INTO change_commit (commit_seq, tx_id, source_lsn, committed_at)
    VALUES (nextval('change_commit_seq'), source_tx, source_lsn, committed_at);
    PERFORM pg_notify(channel, '') FROM (SELECT DISTINCT l.channel FROM change_log l WHERE l.tx_id = source_tx) c;
END;
$$;

-- Logical mode, the common case in one round trip: decoded transactions that arrived together, in
-- commit order, each {"x": 32-bit xid, "l": commit LSN, "t": commit time, "r": [{"rel": table OID,
-- "rows": [...]}, ...]} with its runs of rows per table in order. Their entries go in with one
-- statement, their commits (those that logged something) in commit order with another, under the
-- commit-order lock, which the leader's transaction then holds to its end; one NOTIFY per channel.
-- Returns how many logged something.
CREATE OR REPLACE FUNCTION change_log_append_sources(sources JSONB) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    txs      XID8[];
    runs     JSONB;
    logged   XID8[];
    channels TEXT[];
    done     INTEGER;
BEGIN
    PERFORM pg_advisory_xact_lock(7331746175);  -- 'fluxgate' change stream
    SELECT array_agg(change_log_widen_xid((s.value ->> 'x')::bigint) ORDER BY s.ord) INTO txs
      FROM jsonb_array_elements(sources) WITH ORDINALITY s(value, ord);
    SELECT jsonb_agg(r.value || jsonb_build_object('tx', txs[s.ord]::text) ORDER BY s.ord, r.ord) INTO runs
      FROM jsonb_array_elements(sources) WITH ORDINALITY s(value, ord),
           jsonb_array_elements(s.value -> 'r') WITH ORDINALITY r(value, ord);
    SELECT array_agg(DISTINCT a.tx), array_agg(DISTINCT a.channel) INTO logged, channels
      FROM change_log_append_runs(coalesce(runs, '[]')) a;
    INSERT INTO change_commit (commit_seq, tx_id, source_lsn, committed_at)
    SELECT nextval('change_commit_seq'), c.tx, c.lsn, c.at
      FROM (SELECT txs[s.ord] AS tx, (s.value ->> 'l')::pg_lsn AS lsn, (s.value ->> 't')::timestamptz AS at
              FROM jsonb_array_elements(sources) WITH ORDINALITY s(value, ord)
             WHERE txs[s.ord] = ANY (logged)
             ORDER BY s.ord) c;
    GET DIAGNOSTICS done = ROW_COUNT;
    PERFORM pg_notify(c, '') FROM unnest(channels) c;
    RETURN done;
END;
$$;

-- A decoded transaction's 32-bit id as the full xid8: the one nearest the next id to be assigned
-- (ids are compared modulo 2^32, as the server does). Not simply "older than now": the leader's own
-- transaction may have taken its id before a transaction it appends had begun, and a transaction is
-- decoded once its commit is flushed, which can be a moment before it is visible (so its id may not
-- be below the next id yet).
CREATE OR REPLACE FUNCTION change_log_widen_xid(xid BIGINT) RETURNS xid8
LANGUAGE sql AS $$
    SELECT CASE WHEN xid IS NULL THEN NULL ELSE
        (next_xid + CASE WHEN d >= 2147483648 THEN d - 4294967296
                         WHEN d < -2147483648 THEN d + 4294967296 ELSE d END)::text::xid8 END
      FROM (SELECT next_xid, xid - (next_xid & 4294967295) AS d
              FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid) n) next
$$;

-- Runs at COMMIT, once per transaction that logged changes (trigger mode). Held until this
-- transaction is visible, so commit_seq order is commit order.
CREATE OR REPLACE FUNCTION change_log_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7331746175);  -- 'fluxgate' change stream
    INSERT INTO change_commit (commit_seq, tx_id) VALUES (nextval('change_commit_seq'), NEW.tx_id);
    RETURN NULL;
END;
$$;
