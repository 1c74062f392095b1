-- ID tokens in the algorithm an app registered (`id_token_signed_response_alg`):
-- RS256 by default, EdDSA or ES256 on request. The ring keeps one active key
-- per purpose, and each ID algorithm is a purpose of its own (`id` is RS256,
-- `id:EdDSA`, `id:ES256`), so that each rotates and is published ahead on its
-- own. SQLite cannot change a CHECK: the table is made again, rows and all.
CREATE TABLE signing_keys_next (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL CHECK (alg IN ('HS256', 'EdDSA', 'RS256', 'ES256')),
    state        TEXT NOT NULL CHECK (state IN ('published', 'active', 'retired', 'revoked')),
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    ended_at     INTEGER,
    private_key  BLOB NOT NULL,
    public_jwk   TEXT,
    purpose      TEXT NOT NULL DEFAULT 'access'
        CHECK (purpose IN ('access', 'id', 'id:EdDSA', 'id:ES256'))
) STRICT;

INSERT INTO signing_keys_next
    (kid, alg, state, created_at, activates_at, ended_at, private_key, public_jwk, purpose)
SELECT kid, alg, state, created_at, activates_at, ended_at, private_key, public_jwk, purpose
FROM signing_keys;

DROP TABLE signing_keys;
ALTER TABLE signing_keys_next RENAME TO signing_keys;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (purpose) WHERE state = 'active';

-- What an app's ID tokens (and logout tokens) are signed with.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (id_token_signed_response_alg IN ('RS256', 'EdDSA', 'ES256'));
