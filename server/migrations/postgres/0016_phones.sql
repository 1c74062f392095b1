-- Phones and codes by SMS, as SQLite's 0022.
CREATE TABLE phones (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    number       TEXT NOT NULL,
    confirmed_at BIGINT NOT NULL
);

CREATE TABLE sms_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('confirm', 'login', 'proof')),
    number     TEXT NOT NULL,
    hash       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, purpose)
);

CREATE INDEX sms_codes_expires_at ON sms_codes (expires_at);

ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'mail'
    CHECK (channel IN ('mail', 'sms'));

ALTER TABLE sessions DROP CONSTRAINT sessions_factor_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_factor_check
    CHECK (factor IN ('password', 'totp', 'recovery_code', 'passkey', 'sms'));
