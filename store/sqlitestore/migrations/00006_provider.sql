-- +goose Up
-- OpenID Provider: authorization codes (by the SHA-256 of the code, never
-- the code; data and issued are opaque to the store), which clients each
-- session signed into (for back-channel logout), and the scopes users
-- granted third-party clients. Times are Unix ms; expired rows are ignored
-- and deleted on write.
CREATE TABLE provider_codes (
    id       TEXT PRIMARY KEY,
    data     BLOB NOT NULL,
    issued   BLOB,
    redeemed INTEGER NOT NULL DEFAULT 0,
    replayed INTEGER NOT NULL DEFAULT 0,
    purge_at INTEGER NOT NULL
) STRICT;
CREATE INDEX provider_codes_purge ON provider_codes (purge_at);

CREATE TABLE provider_logins (
    session_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, client_id, family_id)
) STRICT;
CREATE INDEX provider_logins_user ON provider_logins (user_id);
CREATE INDEX provider_logins_expires ON provider_logins (expires_at);

CREATE TABLE provider_consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

-- +goose Down
DROP TABLE provider_consents;
DROP TABLE provider_logins;
DROP TABLE provider_codes;
