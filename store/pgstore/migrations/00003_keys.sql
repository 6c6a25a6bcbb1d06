-- +goose Up
-- Signing keys: private JWKs, sealed by a token.Sealer (the sessiond server
-- refuses to keep keys here without token.key_encryption_key). Lifecycle
-- times are NULL when unset.
CREATE TABLE signing_keys (
    id         text PRIMARY KEY,
    alg        text NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz,
    not_before timestamptz,
    retired_at timestamptz,
    expires_at timestamptz
);

-- +goose Down
DROP TABLE signing_keys;
