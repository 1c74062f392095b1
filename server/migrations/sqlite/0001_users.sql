-- People who can sign in. Usernames are unique regardless of case; emails are
-- stored lower-cased, so a plain unique index suffices. Times are Unix
-- milliseconds; the API turns them into RFC 3339.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'teacher', 'admin')),
    created_at    INTEGER NOT NULL -- Unix time, milliseconds
) STRICT;

CREATE UNIQUE INDEX users_username_nocase ON users (username COLLATE NOCASE);
