-- Change capture: every row change of the tracked tables is written to change_log in the writing
-- transaction, and a NOTIFY wakes the listeners. NOTIFY is only the wake-up; the log is the truth.
--
-- Commit order. A sequence taken at INSERT time is not commit order: a transaction can take 5,
-- another take 6 and commit first, and a reader that already moved past 6 would skip 5 for good.
-- So each writing transaction also gets a commit_seq, taken at COMMIT time by a deferred constraint
-- trigger while it holds an advisory lock that lasts until the commit is visible. Commit sequences
-- are therefore handed out in commit order and become visible in that order: a reader that sees
-- commit_seq N already sees everything below N. The lock serializes only the last step of commits
-- that touch tracked tables, which NOTIFY already serializes (it takes a global lock at commit).
-- Unlike reading below pg_snapshot_xmin, a long transaction elsewhere in the database never holds
-- the stream back, and events arrive in true commit order, not transaction-id order.

CREATE TABLE change_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- order within a transaction
    tx_id      xid8        NOT NULL DEFAULT pg_current_xact_id(),
    channel    TEXT        NOT NULL,
    table_name TEXT        NOT NULL,
    operation  TEXT        NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    row_data   JSONB       NOT NULL,                             -- never holds a password
    user_ids   BIGINT[]    NOT NULL DEFAULT '{}',                -- users the change is related to
    changed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- Set on the first row of each transaction only; queues that transaction's commit trigger once.
    first_in_tx BOOLEAN    NOT NULL DEFAULT false
);
CREATE INDEX change_log_tx_id_idx ON change_log (tx_id, id);

CREATE TABLE change_commit (
    commit_seq   BIGINT      PRIMARY KEY,
    tx_id        xid8        NOT NULL UNIQUE,
    committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX change_commit_committed_at_idx ON change_commit (committed_at);
CREATE SEQUENCE change_commit_seq AS BIGINT;

-- Everything at or below pruned_through is gone: resuming from there needs a resync.
CREATE TABLE change_log_horizon (
    only_row       BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    pruned_through BIGINT  NOT NULL DEFAULT 0
);
INSERT INTO change_log_horizon DEFAULT VALUES;

-- Runs at COMMIT, once per transaction that logged changes.
CREATE FUNCTION change_log_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Held until this transaction is visible, so commit_seq order is commit order.
    PERFORM pg_advisory_xact_lock(7331746175);  -- 'fluxgate' change stream
    INSERT INTO change_commit (commit_seq, tx_id) VALUES (nextval('change_commit_seq'), NEW.tx_id);
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER change_log_commit AFTER INSERT ON change_log
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.first_in_tx)
    EXECUTE FUNCTION change_log_commit();

-- Row trigger for the tracked tables. TG_ARGV[0] is the channel; the rest name the columns that
-- hold related user ids.
CREATE FUNCTION change_log_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed  RECORD;
    data     JSONB;
    related  BIGINT[] := '{}';
    col      TEXT;
    tx       TEXT := pg_current_xact_id()::text;
    first    BOOLEAN;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    data := to_jsonb(changed) - 'password';
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        col := TG_ARGV[i];
        IF data ->> col IS NOT NULL THEN
            related := related || (data ->> col)::BIGINT;
        END IF;
    END LOOP;
    first := current_setting('fluxgate.logged_tx', true) IS DISTINCT FROM tx;
    IF first THEN
        PERFORM set_config('fluxgate.logged_tx', tx, true);
    END IF;
    INSERT INTO change_log (channel, table_name, operation, row_data, user_ids, first_in_tx)
    VALUES (TG_ARGV[0], TG_TABLE_NAME, TG_OP, data, related, first);
    -- Constant payload: PostgreSQL folds identical notifications within a transaction.
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_change_log AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION change_log_capture('user_changes', 'id');
CREATE TRIGGER posts_change_log AFTER INSERT OR UPDATE OR DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION change_log_capture('post_changes', 'author_id');
CREATE TRIGGER accounts_change_log AFTER INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION change_log_capture('account_changes', 'user_id');
CREATE TRIGGER transfers_change_log AFTER INSERT OR UPDATE OR DELETE ON transfers
    FOR EACH ROW EXECUTE FUNCTION change_log_capture('account_changes', 'from_user_id', 'to_user_id');
