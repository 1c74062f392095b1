-- A session is one refresh-token family: one login on one device. Access
-- tokens name it in their `sid` claim, so revoking it ends both.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,  -- absolute end of the family
    user_agent     TEXT,
    revoked_at     INTEGER,
    revoked_reason TEXT
) STRICT;

CREATE INDEX sessions_user ON sessions (user_id);
-- Every server instance polls this to keep its revoked-session set current.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Only a SHA-256 of each refresh token is stored. `successor` is the hash of
-- the token that replaced a spent one; it lets an honest second presentation
-- within the grace window be recognised without keeping any token readable.
CREATE TABLE refresh_tokens (
    hash       BLOB PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER,
    successor  BLOB
) STRICT, WITHOUT ROWID;

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
