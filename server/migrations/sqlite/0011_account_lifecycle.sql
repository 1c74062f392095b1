-- The account's life by mail: verified addresses, tokens sent by mail, the
-- outbox of mail to send, and accounts that can be deleted while what they
-- wrote stays.

-- Whether the account's current address was proven by a link sent to it.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));
-- When the account was deleted. A deleted account keeps its row (renamed,
-- with no usable password or address) until the last access token it held
-- has expired, because its sessions' revocations live in `sessions`, which
-- goes with the row; then the row is deleted.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
-- Counts the changes of the password (reset, change) and the deletion. A
-- sign-in notes it when it checks the password, and its session, or its
-- second step, starts only if it is unchanged: a sign-in racing a new
-- password gets nothing. (A rehash of the same password does not count.)
ALTER TABLE users ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;
-- The version a login's password step saw.
ALTER TABLE mfa_challenges ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;

-- Posts and grades outlive their authors: the author or teacher becomes NULL
-- (shown as a deleted user). A student's grades go with the student.
-- SQLite cannot change a column's foreign key in place; nothing references
-- these two tables, so they are rebuilt.
CREATE TABLE posts_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id  TEXT REFERENCES users (id) ON DELETE SET NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO posts_new (id, author_id, title, body, created_at)
    SELECT id, author_id, title, body, created_at FROM posts;
DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;

CREATE TABLE grades_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    teacher_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    course     TEXT NOT NULL,
    grade      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO grades_new (id, student_id, teacher_id, course, grade, created_at)
    SELECT id, student_id, teacher_id, course, grade, created_at FROM grades;
DROP TABLE grades;
ALTER TABLE grades_new RENAME TO grades;
CREATE INDEX grades_student ON grades (student_id);
CREATE INDEX grades_teacher ON grades (teacher_id);

-- Tokens sent by mail: only a keyed hash of each is stored. `purpose` is
-- 'verify_email' (the account's current address), 'change_email' (a new
-- address, which replaces the current one when this is used) or
-- 'reset_password'. `email` is the address the link went to. Issuing one
-- deletes the account's others of the same purpose (the newest wins); using
-- one deletes it.
CREATE TABLE email_tokens (
    hash       BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'change_email', 'reset_password')),
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);

-- Mail waiting to be sent. A request writes its mail here (in the same
-- transaction as the change it tells of, where there is one) and any
-- instance's sender delivers it, so a crash loses nothing. `message` is the
-- whole RFC 5322 message, sealed: it holds links with tokens. A sender
-- claims a row by moving `next_attempt_at` past the time it may take
-- (a conditional update, so one sender at a time); a delivered message is
-- deleted, a failed one waits longer after each attempt.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    message         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
) STRICT;

CREATE INDEX outbox_due ON outbox (next_attempt_at);
