-- +goose Up
-- Registered OAuth clients. List columns are JSON arrays of strings;
-- secret_hash is HMAC-SHA256 of the secret (client.HashSecret), NULL for
-- public clients. created_at is Unix ms.
CREATE TABLE clients (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL DEFAULT '',
    secret_hash            BLOB,
    public                 INTEGER NOT NULL DEFAULT 0,
    first_party            INTEGER NOT NULL DEFAULT 0,
    grants                 TEXT NOT NULL DEFAULT '[]',
    audiences              TEXT NOT NULL DEFAULT '[]',
    scopes                 TEXT NOT NULL DEFAULT '[]',
    redirect_uris          TEXT NOT NULL DEFAULT '[]',
    backchannel_logout_uri TEXT NOT NULL DEFAULT '',
    created_at             INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE clients;
