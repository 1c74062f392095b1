-- The identity provider's state: what signs ID tokens, what a person is
-- asked and has allowed, and what an app holds.

-- Every key has a purpose: `access` keys sign the board's own access tokens
-- (JWT_ALG); `id` keys sign ID tokens (RS256 always, OpenID Connect Core
-- §15.1). Each purpose has at most one active key; both rotate, and every
-- key of either is published ahead in the JWKS.
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access'
    CHECK (purpose IN ('access', 'id'));
DROP INDEX signing_keys_one_active;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (purpose) WHERE state = 'active';

-- An app's grant is a session of its own: its access tokens name it in `sid`
-- and its refresh tokens are a family like the board's, so revocation,
-- rotation and reuse detection are the same. `client_id` is the app (NULL for
-- the board's own sessions), `scope` what the person allowed, `parent_id`
-- the person's session on this site that signed the grant in: ending that
-- ends the grant.
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN scope TEXT;
ALTER TABLE sessions ADD COLUMN parent_id TEXT;
CREATE INDEX sessions_client ON sessions (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX sessions_parent ON sessions (parent_id) WHERE parent_id IS NOT NULL;

-- An authorization request checked and waiting for the person (sign-in,
-- consent). The browser holds a handle to it; only a hash of the handle is
-- stored. It ends when answered, or at `expires_at`.
CREATE TABLE authorization_requests (
    handle_hash    BLOB PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    state          TEXT,
    nonce          TEXT,
    code_challenge TEXT NOT NULL,
    prompt         TEXT NOT NULL,
    max_age        INTEGER,
    login_hint     TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX authorization_requests_expiry ON authorization_requests (expires_at);

-- An authorization code: only its hash is stored. It works once (`used_at`);
-- the grant its exchange started is `grant_id`, so that a second use can end it.
CREATE TABLE authorization_codes (
    code_hash      BLOB PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    grant_id       TEXT
) STRICT, WITHOUT ROWID;

CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- What a person allowed an app: one row per person and app, the scopes
-- space-separated. Asking for a scope not in it asks again.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT, WITHOUT ROWID;

-- The tokens an app got for itself (client_credentials) name the app and its
-- secret's generation in `sid` (`app:<client_id>:<generation>`). Replacing the
-- secret, or removing the app, ends that `sid`: a revocation like a session's,
-- numbered by the same clock, read by every instance beside the sessions.
CREATE TABLE revoked_app_tokens (
    sid         TEXT PRIMARY KEY NOT NULL,
    revoked_at  INTEGER NOT NULL,
    revoked_seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX revoked_app_tokens_seq ON revoked_app_tokens (revoked_seq);
