-- Pushed authorization requests and DPoP, as SQLite's 0018.
ALTER TABLE clients ADD COLUMN require_par BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE authorization_requests ADD COLUMN pushed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE authorization_requests ADD COLUMN dpop_jkt TEXT;
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT;

CREATE TABLE dpop_proofs (
    jti_hash   BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE INDEX dpop_proofs_expiry ON dpop_proofs (expires_at);
