-- One proof policy, as SQLite's 0013: what each session's sign-in used, and
-- when its holder last proved presence.
ALTER TABLE sessions ADD COLUMN factor TEXT NOT NULL DEFAULT 'password'
    CHECK (factor IN ('password', 'totp', 'recovery_code', 'passkey'));
ALTER TABLE sessions ADD COLUMN factor_id TEXT;
ALTER TABLE sessions ADD COLUMN proven_at BIGINT;

UPDATE sessions SET factor = CASE
    WHEN ' ' || amr || ' ' LIKE '% otp %' THEN 'totp'
    WHEN ' ' || amr || ' ' LIKE '% hwk %' OR ' ' || amr || ' ' LIKE '% swk %' THEN 'passkey'
    WHEN ' ' || amr || ' ' LIKE '% mfa %' THEN 'recovery_code'
    ELSE 'password'
END;
