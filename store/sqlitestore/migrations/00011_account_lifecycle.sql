-- +goose Up
-- Account lifecycle (issue 16). Times are Unix ms.
--
-- Email verification: users that exist before this migration were created by
-- an administrator or through single sign-on (there was no sign-up), so
-- their email counts as verified, since their creation.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN email_verified_at INTEGER NOT NULL DEFAULT 0;
UPDATE users SET email_verified = 1, email_verified_at = created_at;

-- Single-use account tokens (verification, recovery, email change): only
-- the SHA-256 of the mailed token is stored. A row past expires_at is as if
-- absent; the sweeper deletes it.
CREATE TABLE account_tokens (
    hash       BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    binding    BLOB NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX account_tokens_expires ON account_tokens (expires_at);

-- The durable mail outbox (mail.Outbox). status: pending, sent or failed
-- (given up). A sent or given-up row keeps no content.
CREATE TABLE mail_outbox (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    html_body   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    not_before  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease       TEXT NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'pending',
    last_error  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox (status, not_before, created_at);

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE account_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
ALTER TABLE users DROP COLUMN email_verified;
