-- +goose Up
-- Registered OAuth clients. secret_hash is client.HashSecret of the secret,
-- NULL for public clients. IDs sort bytewise (COLLATE "C"), as ListClients
-- promises, whatever the database's collation.
CREATE TABLE clients (
    id                     text COLLATE "C" PRIMARY KEY,
    name                   text NOT NULL DEFAULT '',
    secret_hash            bytea,
    public                 boolean NOT NULL DEFAULT false,
    first_party            boolean NOT NULL DEFAULT false,
    grants                 text[] NOT NULL DEFAULT '{}',
    audiences              text[] NOT NULL DEFAULT '{}',
    scopes                 text[] NOT NULL DEFAULT '{}',
    redirect_uris          text[] NOT NULL DEFAULT '{}',
    backchannel_logout_uri text NOT NULL DEFAULT '',
    created_at             timestamptz NOT NULL
);

-- +goose Down
DROP TABLE clients;
