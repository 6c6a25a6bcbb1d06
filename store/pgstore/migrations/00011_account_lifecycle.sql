-- +goose Up
-- Account lifecycle (issue 16).
--
-- Email verification: users that exist before this migration were created by
-- an administrator or through single sign-on (there was no sign-up), so
-- their email counts as verified, since their creation.
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false,
                  ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified = true, email_verified_at = created_at;

-- Single-use account tokens (verification, recovery, email change): only
-- the SHA-256 of the mailed token is stored. A row past expires_at is as if
-- absent; the sweeper deletes it.
CREATE TABLE account_tokens (
    hash       bytea PRIMARY KEY,
    purpose    text NOT NULL,
    user_id    text NOT NULL,
    binding    bytea NOT NULL,
    email      text NOT NULL DEFAULT '',
    expires_at timestamptz NOT NULL
);
CREATE INDEX account_tokens_by_expiry ON account_tokens (expires_at);

-- The durable mail outbox (mail.Outbox), shared by every node: a claim takes
-- due rows with FOR UPDATE SKIP LOCKED and leases them. status: pending,
-- sent or failed (given up). A sent or given-up row keeps no content.
CREATE TABLE mail_outbox (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    recipient   text NOT NULL,
    subject     text NOT NULL,
    text_body   text NOT NULL,
    html_body   text NOT NULL,
    created_at  timestamptz NOT NULL,
    not_before  timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    lease       text NOT NULL DEFAULT '',
    lease_until timestamptz,
    status      text NOT NULL DEFAULT 'pending',
    last_error  text NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due ON mail_outbox (not_before, created_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE account_tokens;
ALTER TABLE users DROP COLUMN email_verified_at, DROP COLUMN email_verified;
