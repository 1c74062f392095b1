-- One proof policy: what each session's sign-in used besides (or instead
-- of) the password, so that removing a factor ends the sessions that came
-- in through it, and when its holder last proved presence.
--
-- `factor` is 'password' (the password alone), 'totp', 'recovery_code' or
-- 'passkey'; `factor_id` names which: the passkey's id, or the recovery
-- codes' set (the `created_at` its codes share; only one set is live at a
-- time). A session of an earlier version has no `factor_id`: it is taken to
-- have used any factor of its kind, so it ends with the first one removed.
ALTER TABLE sessions ADD COLUMN factor TEXT NOT NULL DEFAULT 'password'
    CHECK (factor IN ('password', 'totp', 'recovery_code', 'passkey'));
ALTER TABLE sessions ADD COLUMN factor_id TEXT;
-- When the session's holder last proved presence (POST /api/account/reauth):
-- it counts as proven for REAUTH_WINDOW from then.
ALTER TABLE sessions ADD COLUMN proven_at INTEGER;

-- What earlier sessions used, as their `amr` says.
UPDATE sessions SET factor = CASE
    WHEN ' ' || amr || ' ' LIKE '% otp %' THEN 'totp'
    WHEN ' ' || amr || ' ' LIKE '% hwk %' OR ' ' || amr || ' ' LIKE '% swk %' THEN 'passkey'
    WHEN ' ' || amr || ' ' LIKE '% mfa %' THEN 'recovery_code'
    ELSE 'password'
END;
