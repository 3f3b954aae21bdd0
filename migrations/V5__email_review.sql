-- Addresses are now compared and stored normalized (NFKC, lower case, the domain in its ASCII form;
-- see web/Constraints.normalizeEmail), so two that read alike are one account. Rows stored under the
-- old rule are brought to the new one by the next migration (V6, in Java: it needs the service's own
-- normalization); what it could not do without merging or locking out an account, and what it
-- changed, is listed here for an operator to review. Nothing is merged or deleted.
CREATE TABLE email_review (
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT        NOT NULL,
    normalized    TEXT        NOT NULL,
    -- normalized: the row now holds the normalized address;
    -- collides: it reads as the address of user collides_with, and was left as it was;
    -- invalid: the new rule refuses it (a local part that is not ASCII), and it was left as it was.
    outcome       TEXT        NOT NULL CHECK (outcome IN ('normalized', 'collides', 'invalid')),
    collides_with BIGINT      REFERENCES users (id) ON DELETE SET NULL,
    found_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
