-- Security events, locked accounts, and where sessions signed in from.
--
-- An event names its account by id without a foreign key: the record of an
-- account's deletion must outlive the account. Events are pruned by age
-- (AUDIT_RETENTION). `ip` is the request's address, an IPv6 one cut to its
-- /64; no column ever holds a password, code or token.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    actor_id   TEXT,
    ip         TEXT,
    user_agent TEXT,
    session_id TEXT,
    detail     TEXT
);

CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_kind ON audit_events (kind, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- When an admin locked the account; NULL when it is not locked.
ALTER TABLE users ADD COLUMN locked_at INTEGER;
ALTER TABLE users ADD COLUMN last_login_at INTEGER;
ALTER TABLE sessions ADD COLUMN ip TEXT;
