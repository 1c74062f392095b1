-- Whether an account's password hash was made from the password's NFC form
-- (every hash made from now on). Hashes made before passwords were
-- normalised (0) are also tried with the password as typed, once, until the
-- next successful login hashes it again.
ALTER TABLE users ADD COLUMN password_nfc INTEGER NOT NULL DEFAULT 0 CHECK (password_nfc IN (0, 1));

-- Facts about the database itself.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Refresh tokens carry a tag from now on. Untagged tokens of earlier versions
-- are accepted until every family they could belong to has reached its
-- absolute end: 30 days after this moment.
INSERT INTO settings (key, value)
VALUES ('tagged_refresh_tokens_since', CAST(unixepoch('now') * 1000 AS TEXT));
