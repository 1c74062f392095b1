-- Dynamic client registration (RFC 7591, RFC 7592).

-- An initial access token an operator made (`server clients registration-token`):
-- only its keyed hash is kept. It registers one app, once, before it expires.
CREATE TABLE registration_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    client_id  TEXT
) STRICT, WITHOUT ROWID;

-- An app that registered itself holds a registration access token (RFC 7592)
-- to read or remove its registration: its keyed hash. NULL for apps an admin
-- registered.
ALTER TABLE clients ADD COLUMN registration_access_hash BLOB;
