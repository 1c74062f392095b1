-- The account's life by mail, as SQLite's 0011: verified addresses, tokens
-- sent by mail, the outbox, and accounts deleted while what they wrote stays.

ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
-- See SQLite's 0011: the row outlives the account until its last access
-- token has expired.
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
-- See SQLite's 0011.
ALTER TABLE users ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mfa_challenges ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 0;

ALTER TABLE posts ALTER COLUMN author_id DROP NOT NULL;
ALTER TABLE posts DROP CONSTRAINT posts_author_id_fkey;
ALTER TABLE posts ADD CONSTRAINT posts_author_id_fkey
    FOREIGN KEY (author_id) REFERENCES users (id) ON DELETE SET NULL;

ALTER TABLE grades ALTER COLUMN teacher_id DROP NOT NULL;
ALTER TABLE grades DROP CONSTRAINT grades_teacher_id_fkey;
ALTER TABLE grades ADD CONSTRAINT grades_teacher_id_fkey
    FOREIGN KEY (teacher_id) REFERENCES users (id) ON DELETE SET NULL;

CREATE TABLE email_tokens (
    hash       BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'change_email', 'reset_password')),
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    message         BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT
);

CREATE INDEX outbox_due ON outbox (next_attempt_at);
