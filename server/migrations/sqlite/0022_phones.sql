-- A phone number per account, confirmed by a code sent to it, in E.164: a
-- second factor by SMS. Codes sent by SMS wait in `sms_codes`, one live code
-- per account and purpose (`confirm` a new number, `login`'s second step, a
-- `proof` of presence), kept as a keyed hash; `number` is where it went
-- (for `confirm`, the number it confirms). The fifth wrong code ends it.
CREATE TABLE phones (
    user_id      TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number       TEXT NOT NULL,
    confirmed_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE sms_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('confirm', 'login', 'proof')),
    number     TEXT NOT NULL,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, purpose)
) STRICT, WITHOUT ROWID;

-- The outbox carries texts beside mail; each channel's sender claims its own.
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'mail'
    CHECK (channel IN ('mail', 'sms'));

-- A session may come from an SMS code (`sms`). SQLite cannot change a CHECK
-- with ALTER TABLE, and making `sessions` again would drop it first, which
-- deletes every refresh token through their ON DELETE CASCADE. A wider list
-- is a looser constraint that every row already meets, the case for which
-- SQLite's documentation ("Making Other Kinds Of Table Schema Changes")
-- allows editing the stored definition in place. The index made after it moves
-- the schema version on, so that every connection reads the schema again.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, '''recovery_code'', ''passkey''))',
                       '''recovery_code'', ''passkey'', ''sms''))')
WHERE type = 'table' AND name = 'sessions';
PRAGMA writable_schema = RESET;
-- Stops the migration (nothing of it is kept) if the definition was not
-- what this expects, so that no SMS sign-in would spend its code and then
-- fail to start its session.
CREATE TEMP TABLE phones_migration_guard (widened INTEGER NOT NULL CHECK (widened = 1));
INSERT INTO phones_migration_guard
SELECT sql LIKE '%''passkey'', ''sms''))%' FROM sqlite_schema
WHERE type = 'table' AND name = 'sessions';
DROP TABLE phones_migration_guard;

CREATE INDEX sms_codes_expires_at ON sms_codes (expires_at);
