-- +goose Up
-- OpenID Provider: authorization codes (by the SHA-256 of the code, never
-- the code; data and issued are opaque to the store), which clients each
-- session signed into (for back-channel logout), and the scopes users
-- granted third-party clients. Expired rows are ignored and deleted on
-- write.
CREATE TABLE provider_codes (
    id       text PRIMARY KEY,
    data     bytea NOT NULL,
    issued   bytea,
    redeemed boolean NOT NULL DEFAULT false,
    replayed boolean NOT NULL DEFAULT false,
    purge_at timestamptz NOT NULL
);
CREATE INDEX provider_codes_by_purge ON provider_codes (purge_at);

CREATE TABLE provider_logins (
    session_id text NOT NULL,
    client_id  text NOT NULL,
    family_id  text NOT NULL,
    user_id    text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (session_id, client_id, family_id)
);
CREATE INDEX provider_logins_by_user ON provider_logins (user_id);
CREATE INDEX provider_logins_by_expiry ON provider_logins (expires_at);

CREATE TABLE provider_consents (
    user_id    text NOT NULL,
    client_id  text NOT NULL,
    scope      text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- +goose Down
DROP TABLE provider_consents;
DROP TABLE provider_logins;
DROP TABLE provider_codes;
