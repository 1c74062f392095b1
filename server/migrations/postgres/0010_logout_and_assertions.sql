-- Back-channel logout and `private_key_jwt`, as SQLite's 0016.
CREATE TABLE logout_deliveries (
    client_id       TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    sid             TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (client_id, sid)
);

CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at);

CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti_hash   BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti_hash)
);

CREATE INDEX client_assertions_expiry ON client_assertions (expires_at);
