-- +goose Up
-- Signing keys (private JWKs, sealed when a key-encryption key is
-- configured; the database file is mode 0600 either way). Times Unix ms,
-- 0 for unset.
CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    data        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    not_before  INTEGER NOT NULL,
    retired_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE signing_keys;
