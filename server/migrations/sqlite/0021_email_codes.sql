-- Sign-in codes by mail: one live code per account, the newest, kept as a
-- keyed hash of the account and the code. `failures` counts wrong codes;
-- the fifth ends it. It is good only while `email`, the address it went to,
-- is still the account's.
CREATE TABLE email_codes (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX email_codes_expires_at ON email_codes (expires_at);

-- The first factor of a login waiting for its second: a password (`pwd`),
-- or a code by mail (`email`). The session's `amr` names both.
ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd'
    CHECK (first_factor IN ('pwd', 'email'));
