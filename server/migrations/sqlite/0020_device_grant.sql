-- The device authorization grant (RFC 8628): a device without a keyboard
-- shows a short user code, which the person types at /device.
--
-- Both codes are kept as keyed hashes only. `state` goes from `pending` to
-- `approved` or `denied` by the person's answer, and from `approved` to
-- `used` when the device gets its tokens (the grant `grant_id`, a child of
-- the person's session `session_id`). A device that polls sooner than
-- `interval_secs` after `last_polled_at` is told to slow down, and the
-- interval grows.
CREATE TABLE device_authorizations (
    device_code_hash BLOB PRIMARY KEY NOT NULL,
    user_code_hash   BLOB NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_secs    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    state            TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'approved', 'denied', 'used')),
    user_id          TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id       TEXT,
    grant_id         TEXT
) STRICT, WITHOUT ROWID;

CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);
