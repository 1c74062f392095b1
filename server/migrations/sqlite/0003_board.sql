-- Posts and grades use integer keys: insertion order is id order, which makes
-- "newest first" pagination by id stable while others keep posting.
CREATE TABLE posts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE grades (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    teacher_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    course     TEXT NOT NULL,
    grade      TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX grades_student ON grades (student_id);
CREATE INDEX grades_teacher ON grades (teacher_id);

-- Abuse-limit counters, in the database so that every instance sees them.
-- One row per key and fixed window.
CREATE TABLE rate_counters (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;
