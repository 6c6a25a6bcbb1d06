-- +goose Up
-- Single sign-on: external identities (issuer, subject) linked to users, and
-- sign-in flows between start and callback, keyed by the SHA-256 of their
-- state. data is opaque to the store. Expired flows are deleted by the
-- sweeper and are treated as absent until then.
CREATE TABLE identities (
    issuer     text NOT NULL,
    subject    text NOT NULL,
    user_id    text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identities_by_user ON identities (user_id);

CREATE TABLE oidc_flows (
    key        text PRIMARY KEY,
    data       bytea NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_flows_by_expiry ON oidc_flows (expires_at);

-- +goose Down
DROP TABLE oidc_flows;
DROP TABLE identities;
