-- Apps (OAuth clients) that sign people in through this server.
--
-- `id` is the client_id. A confidential app's secret is stored only as an
-- HMAC-SHA256 under a key derived from the server secret
-- (`secret_hash`); a public app has none. Lists are space-separated, as
-- OAuth writes them: a redirect URI, a scope or a grant never holds a space.
-- Redirect URIs are compared whole and exactly.
CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               BLOB,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '',
    backchannel_logout_uri    TEXT,
    scopes                    TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    trusted                   INTEGER NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),
    jwks_uri                  TEXT,
    created_at                INTEGER NOT NULL,
    secret_rotated_at         INTEGER
);
