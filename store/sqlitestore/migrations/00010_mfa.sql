-- +goose Up
-- Assurance (issue 15): how strongly, and when, the holder of a session or
-- family authenticated. aal 0 is a row written before this migration.
-- amr holds RFC 8176 values separated by spaces; times are Unix ms (0: none).
ALTER TABLE sessions ADD COLUMN aal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN aal2_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN aal INTEGER NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE families ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN aal2_time INTEGER NOT NULL DEFAULT 0;

-- Second factors, keyed by user ID without a foreign key, like sessions:
-- erasing a user deletes them explicitly (DeleteFactors). Times are Unix ms
-- (0: none). At most one TOTP credential per user, its secret only sealed.
CREATE TABLE mfa_totp (
    user_id      TEXT PRIMARY KEY,
    sealed       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER NOT NULL DEFAULT 0
) STRICT;
-- The last accepted TOTP step per user (replay refusal).
CREATE TABLE mfa_totp_steps (
    user_id TEXT PRIMARY KEY,
    step    INTEGER NOT NULL
) STRICT;
-- SHA-256 hashes of unused recovery codes.
CREATE TABLE mfa_recovery_codes (
    user_id TEXT NOT NULL,
    hash    BLOB NOT NULL,
    PRIMARY KEY (user_id, hash)
) STRICT;
-- WebAuthn credentials; a credential ID is unique across users. transports
-- holds the values separated by spaces.
CREATE TABLE mfa_passkeys (
    id               BLOB PRIMARY KEY,
    user_id          TEXT NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    public_key       BLOB NOT NULL,
    aaguid           BLOB,
    sign_count       INTEGER NOT NULL DEFAULT 0,
    transports       TEXT NOT NULL DEFAULT '',
    attestation_type TEXT NOT NULL DEFAULT '',
    user_verified    INTEGER NOT NULL DEFAULT 0,
    backup_eligible  INTEGER NOT NULL DEFAULT 0,
    backup_state     INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX mfa_passkeys_by_user ON mfa_passkeys (user_id, created_at);

-- +goose Down
DROP TABLE mfa_passkeys;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp_steps;
DROP TABLE mfa_totp;
ALTER TABLE families DROP COLUMN aal2_time;
ALTER TABLE families DROP COLUMN auth_time;
ALTER TABLE families DROP COLUMN amr;
ALTER TABLE families DROP COLUMN aal;
ALTER TABLE sessions DROP COLUMN aal2_time;
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN aal;
