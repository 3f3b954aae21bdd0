-- Core schema: users, posts, accounts and transfers.
-- updated_at is kept by the database so every writer (the service, psql, a batch job) agrees.

-- Bumps updated_at only when the row really changed, so a no-op UPDATE leaves it alone.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

-- For users, recording activity (last_active) is not an edit of the profile.
CREATE OR REPLACE FUNCTION users_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.name, NEW.email, NEW.password, NEW.status, NEW.avatar, NEW.bio)
       IS DISTINCT FROM (OLD.name, OLD.email, OLD.password, OLD.status, OLD.avatar, OLD.bio) THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TABLE users (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       TEXT        NOT NULL CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
    password    TEXT        NOT NULL,
    name        TEXT        NOT NULL CHECK (length(name) BETWEEN 2 AND 50),
    status      TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'suspended')),
    avatar      TEXT        CHECK (length(avatar) <= 2048),
    bio         TEXT        CHECK (length(bio) <= 500),
    last_active TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Case-insensitive uniqueness even for rows written outside the service.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
-- "Active in the last 30 days, newest first" and the per-status statistics.
CREATE INDEX users_status_last_active_idx ON users (status, last_active DESC);
CREATE INDEX users_last_active_idx ON users (last_active DESC);
-- Whitelisted list orderings (id is the primary key).
CREATE INDEX users_name_idx ON users (name, id);
CREATE INDEX users_created_at_idx ON users (created_at, id);

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_set_updated_at();

CREATE TABLE posts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id  BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       TEXT        NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Keyset pages per author, newest first; the global listing walks the primary key.
CREATE INDEX posts_author_id_idx ON posts (author_id, id DESC);

CREATE TRIGGER posts_set_updated_at BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE accounts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT        NOT NULL UNIQUE REFERENCES users (id) ON DELETE RESTRICT,
    balance    NUMERIC(19,2) NOT NULL DEFAULT 0 CHECK (balance >= 0),
    currency   CHAR(3)       NOT NULL DEFAULT 'USD',
    created_at TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ   NOT NULL DEFAULT now()
);

CREATE TRIGGER accounts_set_updated_at BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE transfers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for deposits, which come from outside the system.
    from_user_id    BIGINT        REFERENCES users (id) ON DELETE RESTRICT,
    to_user_id      BIGINT        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    amount          NUMERIC(19,2) NOT NULL CHECK (amount > 0),
    type            TEXT          NOT NULL CHECK (type IN ('transfer', 'deposit')),
    idempotency_key TEXT          CHECK (length(idempotency_key) BETWEEN 1 AND 100),
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CHECK (type = 'deposit' OR from_user_id IS NOT NULL),
    CHECK (from_user_id IS DISTINCT FROM to_user_id),
    -- A key is the sender's: two users may pick the same one without colliding.
    UNIQUE (from_user_id, idempotency_key)
);
-- "My transfers" keyset pages look up both sides.
CREATE INDEX transfers_from_user_idx ON transfers (from_user_id, id DESC);
CREATE INDEX transfers_to_user_idx ON transfers (to_user_id, id DESC);
