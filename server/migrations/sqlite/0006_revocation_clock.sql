-- Revocations are numbered in commit order. Every revoking transaction first
-- takes the next number from this one-row clock; the row's lock (SQLite's
-- write lock here) makes the numbers commit in order, so an instance polling
-- "revocations numbered above the last I saw" never skips one that committed
-- late, whatever time its revoking instance read from its clock.
CREATE TABLE revocation_clock (
    id  INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;

INSERT INTO revocation_clock (id, seq) VALUES (1, 0);

-- The number of the revocation that ended a session (NULL while it is live,
-- and for sessions revoked before numbering existed).
ALTER TABLE sessions ADD COLUMN revoked_seq INTEGER;

CREATE INDEX sessions_revoked_seq ON sessions (revoked_seq) WHERE revoked_seq IS NOT NULL;
