-- The capture rules, as they stand now: the one definition to edit, used by both capture modes.
-- Flyway runs a repeatable migration again whenever this file changes, after the versioned ones,
-- so V2 to V5 keep their historical copies untouched and this file always has the last word.
--
-- Which tables are captured, on which channel, and with which related-user columns is said once,
-- by each table's capture trigger and its arguments: the channel, then the columns holding
-- related user ids; a column prefixed with '-' is ignored when deciding whether an UPDATE changed
-- anything (activity stamps). In trigger mode the trigger runs change_log_entry in the writer's
-- transaction; in logical mode the triggers are disabled and the capture leader runs the same
-- change_log_entry, with the same arguments read from the trigger, on the decoded rows.
--
-- Columns that are nobody else's business never reach the change log: the password hash, the
-- token version, and a transfer's idempotency key.
-- Capture from the WAL logs each decoded transaction under its own id (tx_id, as the triggers do)
-- and records its commit LSN; unique, so a transaction appended again after a leader died before
-- confirming it is refused, not logged twice. Rows written by the triggers leave it NULL. Here
-- rather than in a versioned migration so these functions work at whatever version the schema is
-- being migrated to.
ALTER TABLE change_commit ADD COLUMN IF NOT EXISTS source_lsn pg_lsn UNIQUE;

-- change_log_entry gained its last parameter; the old signature goes.
DROP FUNCTION IF EXISTS change_log_entry(TEXT[], TEXT, TEXT, JSONB, JSONB);

-- source_tx: logical mode, the decoded transaction the entry belongs to (the capture leader then
-- records its commit itself, see change_log_commit_source); NULL: the current transaction's own.
CREATE OR REPLACE FUNCTION change_log_entry(args TEXT[], tbl TEXT, op TEXT, new_row JSONB, old_row JSONB,
                                            source_tx XID8 DEFAULT NULL)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    hidden   CONSTANT TEXT[] := ARRAY['password', 'token_version', 'idempotency_key'];
    data     JSONB;
    previous JSONB;
    related  BIGINT[] := '{}';
    ignored  TEXT[] := '{}';
    col      TEXT;
    tx       TEXT := pg_current_xact_id()::text;
    first    BOOLEAN;
BEGIN
    FOR i IN 2 .. cardinality(args) LOOP
        IF left(args[i], 1) = '-' THEN
            ignored := ignored || substr(args[i], 2);
        END IF;
    END LOOP;
    IF op = 'DELETE' THEN data := old_row - hidden; ELSE data := new_row - hidden; END IF;
    IF op = 'UPDATE' AND cardinality(ignored) > 0 THEN
        previous := old_row - hidden;
        IF (data - ignored) = (previous - ignored) THEN
            RETURN false;
        END IF;
    END IF;
    FOR i IN 2 .. cardinality(args) LOOP
        col := args[i];
        IF left(col, 1) <> '-' AND data ->> col IS NOT NULL THEN
            related := related || (data ->> col)::BIGINT;
        END IF;
    END LOOP;
    IF source_tx IS NOT NULL THEN
        INSERT INTO change_log (tx_id, channel, table_name, operation, row_data, user_ids)
        VALUES (source_tx, args[1], tbl, op, data, related);
        RETURN true;
    END IF;
    first := current_setting('fluxgate.logged_tx', true) IS DISTINCT FROM tx;
    IF first THEN
        PERFORM set_config('fluxgate.logged_tx', tx, true);
    END IF;
    INSERT INTO change_log (channel, table_name, operation, row_data, user_ids, first_in_tx)
    VALUES (args[1], tbl, op, data, related, first);
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

-- Logical mode: the capture leader appends a run of decoded changes of one table, in order, for
-- the decoded transaction source_tx. Each element of rows is {"op": ..., "n": new row, "o": old row},
-- rows as JSON objects of the columns' text forms (json and jsonb columns as JSON): typed here through
-- the table's own row type, so row_data is exactly what to_jsonb gives in trigger mode. Returns the
-- number of entries logged.
CREATE OR REPLACE FUNCTION change_log_append(tbl REGCLASS, rows JSONB, source_tx XID8) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    args   TEXT[] := change_log_capture_args(tbl);
    name   TEXT;
    typed  RECORD;
    logged INTEGER := 0;
BEGIN
    IF args IS NULL THEN
        -- Dropped, or no longer captured, since the decoded transaction wrote it: nothing to log it by.
        RAISE WARNING 'change_log_append: % has no capture trigger any more; % decoded rows not logged',
            tbl, jsonb_array_length(rows);
        RETURN 0;
    END IF;
    SELECT c.relname INTO name FROM pg_class c WHERE c.oid = tbl;
    FOR typed IN EXECUTE format(
            'SELECT r.op,'
            || ' CASE WHEN r.n IS NULL THEN NULL ELSE to_jsonb(jsonb_populate_record(NULL::%1$s, r.n)) END AS n,'
            || ' CASE WHEN r.o IS NULL THEN NULL ELSE to_jsonb(jsonb_populate_record(NULL::%1$s, r.o)) END AS o'
            || ' FROM ROWS FROM (jsonb_to_recordset($1) AS (op TEXT, n JSONB, o JSONB))'
            || ' WITH ORDINALITY AS r(op, n, o, ord) ORDER BY r.ord', tbl) USING rows
    LOOP
        IF change_log_entry(args, name, typed.op, typed.n, typed.o, source_tx) THEN
            logged := logged + 1;
        END IF;
    END LOOP;
    RETURN logged;
END;
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
-- commit order, each [{"x": 32-bit xid, "l": commit LSN, "t": commit time, "r": [{"rel": table OID,
-- "rows": [...]}, ...]}, ...] with its runs of rows per table in order. Returns how many logged
-- something.
CREATE OR REPLACE FUNCTION change_log_append_sources(sources JSONB) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    source JSONB;
    run    JSONB;
    tx     XID8;
    logged INTEGER;
    done   INTEGER := 0;
BEGIN
    FOR source IN SELECT value FROM jsonb_array_elements(sources) WITH ORDINALITY ORDER BY ordinality LOOP
        tx := change_log_widen_xid((source ->> 'x')::bigint);
        logged := 0;
        FOR run IN SELECT value FROM jsonb_array_elements(source -> 'r') WITH ORDINALITY ORDER BY ordinality LOOP
            logged := logged + change_log_append((run ->> 'rel')::oid::regclass, run -> 'rows', tx);
        END LOOP;
        IF logged > 0 THEN
            PERFORM change_log_commit_source(tx, (source ->> 'l')::pg_lsn, (source ->> 't')::timestamptz);
            done := done + 1;
        END IF;
    END LOOP;
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
