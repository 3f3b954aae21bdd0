-- Roles live in the database, and tokens can be revoked.
--
-- roles: USER always, ADMIN when an admin granted it or the user is the configured bootstrap admin.
-- Nothing an ordinary user can change (email, name) decides a role any more.
--
-- token_version: every token carries the version current at login. Suspending a user, taking a
-- role away or changing the password bumps it (here, so writers outside the service revoke too),
-- and the service rejects tokens of an older version within seconds. Versions start at 1: tokens
-- issued before this migration carry none and are refused, so everyone signs in again once (their
-- roles came from an email list anyone could put themselves on).
ALTER TABLE users
    ADD COLUMN roles TEXT[] NOT NULL DEFAULT '{USER}'
        CHECK (roles <@ ARRAY['USER', 'ADMIN'] AND 'USER' = ANY (roles)),
    ADD COLUMN token_version BIGINT NOT NULL DEFAULT 1;

CREATE OR REPLACE FUNCTION users_revoke_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.status = 'suspended' AND OLD.status <> 'suspended')
       OR NOT (OLD.roles <@ NEW.roles)
       OR NEW.password IS DISTINCT FROM OLD.password THEN
        NEW.token_version := OLD.token_version + 1;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_revoke_tokens BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_revoke_tokens();

-- A change of roles is an edit of the user like any other.
CREATE OR REPLACE FUNCTION users_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.name, NEW.email, NEW.password, NEW.status, NEW.avatar, NEW.bio, NEW.roles)
       IS DISTINCT FROM (OLD.name, OLD.email, OLD.password, OLD.status, OLD.avatar, OLD.bio, OLD.roles) THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

-- Columns that are nobody else's business never reach the change log: the password hash, the token
-- version, and a transfer's idempotency key (the sender's own retry handle, which the recipient
-- receives the event of).
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

-- What was logged before this migration loses those columns too.
UPDATE change_log SET row_data = row_data - 'idempotency_key' WHERE row_data ? 'idempotency_key';

-- A non-admin's resume on user_changes or account_changes reads only the changes related to it:
-- this index finds them without walking the whole retained log.
CREATE INDEX change_log_user_ids_idx ON change_log USING gin (user_ids);
