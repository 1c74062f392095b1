-- Second factors (TOTP and recovery codes), the logins waiting for one, and
-- how each session signed in.

-- One TOTP secret per account, sealed (ChaCha20-Poly1305 under a key derived
-- from the server secret, bound to the account). Pending until its first
-- code confirms it; `last_step` is the last time step accepted, so no step
-- is accepted twice.
CREATE TABLE totp_secrets (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER
);

-- Recovery codes: only a keyed hash (HMAC-SHA256) of each, single use.
CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- Logins whose password was right, waiting for a second factor. Only a
-- keyed hash of the mfa_token is stored; the row is deleted when redeemed
-- or after the fifth wrong code.
CREATE TABLE mfa_challenges (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);

-- How the session's sign-in happened (RFC 8176 `amr` values, space
-- separated) and when (ms); kept by every rotation. Sessions from before
-- this migration signed in with a password when they were created.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
