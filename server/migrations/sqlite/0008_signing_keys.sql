-- The ring of keys that sign and verify access tokens, shared by every
-- instance. A key is published (verifiers may fetch it), then active (it
-- signs), then retired (it verifies tokens it signed until they expire),
-- then deleted; a revoked key neither signs nor verifies. Private halves are
-- encrypted (ChaCha20-Poly1305, key derived from the server secret, the kid
-- as associated data); `public_jwk` is what JWKS shows of asymmetric keys.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL CHECK (alg IN ('HS256', 'EdDSA', 'RS256')),
    state        TEXT NOT NULL CHECK (state IN ('published', 'active', 'retired', 'revoked')),
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    ended_at     INTEGER, -- retired or revoked at
    private_key  BLOB NOT NULL,
    public_jwk   TEXT
) STRICT;

-- At most one key signs.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active';
