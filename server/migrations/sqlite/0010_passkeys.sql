-- Passkeys (WebAuthn credentials) and the ceremonies that register them or
-- sign in with them.

-- One row per credential. `credential` is the relying party's record of it
-- (webauthn-rs's `Passkey` as JSON: the public key, the signature counter,
-- the backup flags); nothing in it is secret. `sign_count` is the counter
-- of the last accepted assertion (0 before any), so that accepting one is a
-- conditional update.
-- `attachment` is what the browser said at registration ('platform' or
-- 'cross-platform'), unsigned and used only to name the sign-in method.
CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   BLOB NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    credential      TEXT NOT NULL,
    sign_count      INTEGER NOT NULL,
    attachment      TEXT,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    -- When an assertion's counter went backwards: a possible clone.
    counter_regressed_at INTEGER
);

CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- A ceremony started and not yet finished: only a keyed hash of its token is
-- stored, with webauthn-rs's state (the challenge, and for a sign-in the
-- credentials allowed). `purpose` is 'register', 'sign_in', 'second_factor'
-- or 'reauth' (proof of presence); all but a sign-in belong to an account,
-- and a second factor to the login's mfa_token too. Deleted by the request
-- that finishes it, whatever the outcome.
CREATE TABLE webauthn_ceremonies (
    token_hash     BLOB PRIMARY KEY,
    purpose        TEXT NOT NULL,
    user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    mfa_token_hash BLOB,
    state          TEXT NOT NULL,
    expires_at     INTEGER NOT NULL
);

CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
