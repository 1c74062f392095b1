-- Dynamic client registration, as SQLite's 0019.
CREATE TABLE registration_tokens (
    token_hash BYTEA PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    client_id  TEXT
);

ALTER TABLE clients ADD COLUMN registration_access_hash BYTEA;
