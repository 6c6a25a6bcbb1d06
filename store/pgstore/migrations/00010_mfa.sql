-- +goose Up
-- Assurance (issue 15): how strongly, and when, the holder of a session or
-- family authenticated. aal 0 is a row written before this migration.
ALTER TABLE sessions ADD COLUMN aal smallint NOT NULL DEFAULT 0,
    ADD COLUMN amr text[] NOT NULL DEFAULT '{}',
    ADD COLUMN auth_time timestamptz,
    ADD COLUMN aal2_time timestamptz;
ALTER TABLE families ADD COLUMN aal smallint NOT NULL DEFAULT 0,
    ADD COLUMN amr text[] NOT NULL DEFAULT '{}',
    ADD COLUMN auth_time timestamptz,
    ADD COLUMN aal2_time timestamptz;

-- Second factors. Rows are keyed by user ID without a foreign key, like
-- sessions: erasing a user deletes them explicitly (DeleteFactors).
-- At most one TOTP credential per user; the secret only ever sealed.
CREATE TABLE mfa_totp (
    user_id      text PRIMARY KEY,
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz
);
-- The last accepted TOTP step per user (replay refusal).
CREATE TABLE mfa_totp_steps (
    user_id text PRIMARY KEY,
    step    bigint NOT NULL
);
-- SHA-256 hashes of unused recovery codes.
CREATE TABLE mfa_recovery_codes (
    user_id text NOT NULL,
    hash    bytea NOT NULL,
    PRIMARY KEY (user_id, hash)
);
-- WebAuthn credentials; a credential ID is unique across users.
CREATE TABLE mfa_passkeys (
    id               bytea PRIMARY KEY,
    user_id          text NOT NULL,
    name             text NOT NULL DEFAULT '',
    public_key       bytea NOT NULL,
    aaguid           bytea,
    sign_count       bigint NOT NULL DEFAULT 0,
    transports       text[] NOT NULL DEFAULT '{}',
    attestation_type text NOT NULL DEFAULT '',
    user_verified    boolean NOT NULL DEFAULT false,
    backup_eligible  boolean NOT NULL DEFAULT false,
    backup_state     boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);
CREATE INDEX mfa_passkeys_by_user ON mfa_passkeys (user_id, created_at);

-- +goose Down
DROP TABLE mfa_passkeys;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp_steps;
DROP TABLE mfa_totp;
ALTER TABLE families DROP COLUMN aal2_time, DROP COLUMN auth_time, DROP COLUMN amr, DROP COLUMN aal;
ALTER TABLE sessions DROP COLUMN aal2_time, DROP COLUMN auth_time, DROP COLUMN amr, DROP COLUMN aal;
