-- Pushed authorization requests (RFC 9126) and DPoP (RFC 9449).

-- An app registered to require PAR gets `invalid_request` for a request
-- that was not pushed.
ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0 CHECK (require_par IN (0, 1));

-- A pushed request is an authorization request that waits, under the hash of
-- its `request_uri`, for the browser to bring it to the authorization
-- endpoint; there it becomes an ordinary waiting request (`pushed` 0) under a
-- new handle, once. `dpop_jkt` (RFC 9449 §10) binds the code it is answered
-- with to a DPoP key.
ALTER TABLE authorization_requests ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0 CHECK (pushed IN (0, 1));
ALTER TABLE authorization_requests ADD COLUMN dpop_jkt TEXT;
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;

-- The DPoP key (its RFC 7638 thumbprint) a grant's refresh tokens are bound
-- to: each refresh needs a proof signed by it.
ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT;

-- Every DPoP proof accepted, by a hash of its `jti` and the key's thumbprint,
-- until its `iat` leaves the window: a proof works once, on any instance.
CREATE TABLE dpop_proofs (
    jti_hash   BLOB PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX dpop_proofs_expiry ON dpop_proofs (expires_at);
