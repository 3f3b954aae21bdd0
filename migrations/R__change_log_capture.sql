-- The capture trigger function, as it stands now: the one definition to edit. Flyway runs a
-- repeatable migration again whenever this file changes, after the versioned ones, so V2 to V4
-- keep their historical copies untouched and this file always has the last word.
--
-- Each captured row change writes one change_log row in the writer's transaction (secret columns
-- removed, related user ids computed from the columns the trigger names) and wakes the listeners.
-- Trigger arguments: the channel, then the columns holding related user ids; a column prefixed
-- with '-' is ignored when deciding whether an UPDATE changed anything (activity stamps).
-- Columns that are nobody else's business never reach the change log: the password hash, the
-- token version, and a transfer's idempotency key.
CREATE OR REPLACE FUNCTION change_log_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    hidden   CONSTANT TEXT[] := ARRAY['password', 'token_version', 'idempotency_key'];
    changed  RECORD;
    data     JSONB;
    previous JSONB;
    related  BIGINT[] := '{}';
    ignored  TEXT[] := '{}';
    col      TEXT;
    tx       TEXT := pg_current_xact_id()::text;
    first    BOOLEAN;
BEGIN
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        IF left(TG_ARGV[i], 1) = '-' THEN
            ignored := ignored || substr(TG_ARGV[i], 2);
        END IF;
    END LOOP;
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    data := to_jsonb(changed) - hidden;
    IF TG_OP = 'UPDATE' AND cardinality(ignored) > 0 THEN
        previous := to_jsonb(OLD) - hidden;
        IF (data - ignored) = (previous - ignored) THEN
            RETURN NULL;
        END IF;
    END IF;
    FOR i IN 1 .. TG_NARGS - 1 LOOP
        col := TG_ARGV[i];
        IF left(col, 1) <> '-' AND data ->> col IS NOT NULL THEN
            related := related || (data ->> col)::BIGINT;
        END IF;
    END LOOP;
    first := current_setting('fluxgate.logged_tx', true) IS DISTINCT FROM tx;
    IF first THEN
        PERFORM set_config('fluxgate.logged_tx', tx, true);
    END IF;
    INSERT INTO change_log (channel, table_name, operation, row_data, user_ids, first_in_tx)
    VALUES (TG_ARGV[0], TG_TABLE_NAME, TG_OP, data, related, first);
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END;
$$;
