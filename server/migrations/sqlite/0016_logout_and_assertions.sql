-- Back-channel logout and `private_key_jwt`.

-- Logout tokens waiting to be delivered: one per app and person's session
-- (`sid`, the ID tokens' `sid`) when that session ended and the app had
-- received an ID token for it and registered a back-channel logout
-- address. Queued in the transaction that ended the session; any
-- instance's sender claims one at a time (as for mail), signs the token
-- when it sends it, and retries with growing pauses. It goes with the app.
CREATE TABLE logout_deliveries (
    client_id       TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    sid             TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (client_id, sid)
) STRICT;

CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at);

-- The `jti` of every `private_key_jwt` assertion an app authenticated with,
-- hashed, until the assertion expires: each works once, on any instance.
CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti_hash   BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti_hash)
) STRICT;

CREATE INDEX client_assertions_expiry ON client_assertions (expires_at);
