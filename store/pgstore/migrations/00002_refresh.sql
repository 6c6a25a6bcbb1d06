-- +goose Up
-- Refresh-token families (one per token-endpoint login). deadline =
-- min(idle_expires_at, expires_at), computed like sessions.deadline (a NULL
-- idle expiry means none): a family past its deadline is treated as absent
-- and swept, with its tokens. fillfactor leaves room for the updates every
-- rotation makes.
CREATE TABLE families (
    id              text PRIMARY KEY,
    user_id         text NOT NULL,
    client_id       text NOT NULL DEFAULT '',
    scope           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL,
    idle_expires_at timestamptz,
    deadline        timestamptz NOT NULL GENERATED ALWAYS AS (LEAST(idle_expires_at, expires_at)) STORED,
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    generation      bigint NOT NULL DEFAULT 0,
    data            bytea,
    data_version    bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 90);
CREATE INDEX families_by_user ON families (user_id, created_at);
CREATE INDEX families_by_deadline ON families (deadline);

-- Refresh tokens, by the public ID derived from their hash; only the hash
-- is kept. Spent ones (spent_at set) stay, with their sealed successor, for
-- reuse detection until their family ends.
CREATE TABLE refresh_tokens (
    id         text PRIMARY KEY,
    hash       bytea NOT NULL,
    family_id  text NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    generation bigint NOT NULL,
    spent_at   timestamptz,
    sealed     bytea
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- Revoked access tokens ("jti:<id>", "sid:<id>") until they expire.
CREATE TABLE denylist (
    key   text PRIMARY KEY,
    until timestamptz NOT NULL
);
CREATE INDEX denylist_by_until ON denylist (until);

-- +goose Down
DROP TABLE denylist;
DROP TABLE refresh_tokens;
DROP TABLE families;
