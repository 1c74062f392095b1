-- Ended sessions are pruned by their absolute end as well as by revocation
-- time (sessions::prune_ended); this index keeps that a range scan.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
