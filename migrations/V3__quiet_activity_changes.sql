-- Activity is not news. Recording that a user was seen (last_active) happens on every request, in
-- batches; logging each as a change would flood every subscriber with their own heartbeat. The
-- capture trigger now takes columns prefixed with '-' as "ignore": an UPDATE that changes nothing
-- else is not logged.
CREATE OR REPLACE FUNCTION change_log_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
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
    data := to_jsonb(changed) - 'password';
    IF TG_OP = 'UPDATE' AND cardinality(ignored) > 0 THEN
        previous := to_jsonb(OLD) - 'password';
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

DROP TRIGGER users_change_log ON users;
CREATE TRIGGER users_change_log AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION change_log_capture('user_changes', 'id', '-last_active', '-updated_at');
