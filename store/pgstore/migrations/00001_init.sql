-- +goose Up
CREATE TABLE users (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL DEFAULT '',
    roles         text[] NOT NULL DEFAULT '{}',
    org_id        text NOT NULL DEFAULT '',
    disabled      boolean NOT NULL DEFAULT false,
    token_version bigint NOT NULL DEFAULT 0,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- deadline = min(idle_expires_at, expires_at), computed by PostgreSQL (LEAST
-- ignores a NULL idle expiry): a row past its deadline is treated as absent
-- and swept. Expiry is judged by the store's clock, passed with each query.
-- fillfactor leaves room on each page for the frequent touch and data updates.
CREATE TABLE sessions (
    id              text PRIMARY KEY,
    hash            bytea NOT NULL,
    user_id         text NOT NULL,
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    idle_expires_at timestamptz,
    expires_at      timestamptz NOT NULL,
    deadline        timestamptz NOT NULL GENERATED ALWAYS AS (LEAST(idle_expires_at, expires_at)) STORED,
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    method          text NOT NULL DEFAULT '',
    data            bytea,
    data_version    bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 90);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
CREATE INDEX sessions_by_deadline ON sessions (deadline);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
