-- The schema of the PostgreSQL store, as SQLite's migrations 0001-0007 leave
-- theirs. Times are Unix milliseconds (BIGINT), as on SQLite; the API turns
-- them into RFC 3339.

-- People who can sign in. Emails are stored lower-cased; usernames are
-- unique regardless of case (the index is on lower(username)).
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    email         TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    password_hash TEXT NOT NULL,
    -- Whether the hash was made from the password's NFC form.
    password_nfc  BOOLEAN NOT NULL DEFAULT TRUE,
    role          TEXT NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'teacher', 'admin')),
    created_at    BIGINT NOT NULL
);

CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

-- A session is one refresh-token family: one login on one device. Access
-- tokens name it in their `sid` claim, so revoking it ends both.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,  -- absolute end of the family
    user_agent     TEXT,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    -- The number of the revocation that ended the session (see below).
    revoked_seq    BIGINT
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_seq ON sessions (revoked_seq) WHERE revoked_seq IS NOT NULL;

-- Only a SHA-256 of each refresh token is stored. `successor` is the hash of
-- the token that replaced a spent one, and when it expires.
CREATE TABLE refresh_tokens (
    hash                 BYTEA PRIMARY KEY,
    session_id           TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at            BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    spent_at             BIGINT,
    successor            BYTEA,
    successor_expires_at BIGINT
);

CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Posts and grades use integer keys: insertion order is id order.
CREATE TABLE posts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE grades (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    teacher_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course     TEXT NOT NULL,
    grade      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX grades_student ON grades (student_id);
CREATE INDEX grades_teacher ON grades (teacher_id);

-- Abuse-limit counters, shared by every instance. One row per key and window.
CREATE TABLE rate_counters (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- Revocations are numbered in commit order: every revoking transaction takes
-- the next number from this one-row clock, whose row lock it holds until it
-- commits, so the numbers commit in order and an instance polling "above the
-- last I saw" never skips one that committed late.
CREATE TABLE revocation_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);

INSERT INTO revocation_clock (id, seq) VALUES (1, 0);

-- Facts about the database itself.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every refresh token of this database is tagged: none untagged to accept.
INSERT INTO settings (key, value)
VALUES ('tagged_refresh_tokens_since', (extract(epoch FROM now()) * 1000)::BIGINT::TEXT);
