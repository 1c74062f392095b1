-- Sign-in codes by mail, as SQLite's 0021.
CREATE TABLE email_codes (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    hash       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures   BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX email_codes_expires_at ON email_codes (expires_at);

ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd'
    CHECK (first_factor IN ('pwd', 'email'));
