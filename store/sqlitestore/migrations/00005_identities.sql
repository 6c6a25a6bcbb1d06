-- +goose Up
-- Single sign-on: external identities (issuer, subject) linked to users, and
-- sign-in flows between start and callback, keyed by the SHA-256 of their
-- state. data is opaque to the store; times are Unix ms.
CREATE TABLE identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
) STRICT;
CREATE INDEX identities_user ON identities (user_id);

CREATE TABLE oidc_flows (
    key        TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX oidc_flows_expires ON oidc_flows (expires_at);

-- +goose Down
DROP TABLE oidc_flows;
DROP TABLE identities;
