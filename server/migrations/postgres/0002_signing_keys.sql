-- The ring of keys that sign and verify access tokens (see SQLite's 0008).
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL CHECK (alg IN ('HS256', 'EdDSA', 'RS256')),
    state        TEXT NOT NULL CHECK (state IN ('published', 'active', 'retired', 'revoked')),
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    ended_at     BIGINT,
    private_key  BYTEA NOT NULL,
    public_jwk   TEXT
);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
