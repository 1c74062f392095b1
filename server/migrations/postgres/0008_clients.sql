-- Apps (OAuth clients), as SQLite's 0014.
CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               BYTEA,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '',
    backchannel_logout_uri    TEXT,
    scopes                    TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    trusted                   BOOLEAN NOT NULL DEFAULT FALSE,
    jwks_uri                  TEXT,
    created_at                BIGINT NOT NULL,
    secret_rotated_at         BIGINT
);
