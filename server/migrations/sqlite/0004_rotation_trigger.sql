-- Rotation in one statement. Spending a token names its successor (and when
-- the successor expires); this trigger then stores the successor and marks the
-- session used, inside that same statement. One statement is atomic on its own,
-- so a rotation needs no explicit transaction and holds SQLite's single write
-- lock only while it executes, not across round trips between the server and
-- the database.
ALTER TABLE refresh_tokens ADD COLUMN successor_expires_at INTEGER;

CREATE TRIGGER refresh_token_spent AFTER UPDATE OF successor ON refresh_tokens
WHEN OLD.successor IS NULL AND NEW.successor IS NOT NULL
BEGIN
    INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at)
    VALUES (NEW.successor, NEW.session_id, NEW.spent_at, NEW.successor_expires_at);
    UPDATE sessions SET last_used_at = NEW.spent_at WHERE id = NEW.session_id;
END;
