-- +goose Up
-- Refresh-token families (one per token-endpoint login). deadline =
-- min(idle_expires_at, expires_at), Unix ms.
CREATE TABLE families (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL DEFAULT '',
    scope           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    deadline        INTEGER NOT NULL,
    ip              TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    generation      INTEGER NOT NULL DEFAULT 0,
    data            BLOB,
    data_version    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX families_by_user ON families (user_id, created_at);
CREATE INDEX families_by_deadline ON families (deadline);

-- Refresh tokens, by the public ID derived from their hash; only the hash
-- is kept. Spent ones stay (with their sealed successor) for reuse
-- detection until their family ends.
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    hash        BLOB NOT NULL,
    family_id   TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    generation  INTEGER NOT NULL,
    spent_at    INTEGER NOT NULL DEFAULT 0,
    sealed      BLOB
) STRICT;
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

CREATE TABLE denylist (
    key   TEXT PRIMARY KEY,
    until INTEGER NOT NULL
) STRICT;
CREATE INDEX denylist_by_until ON denylist (until);

-- +goose Down
DROP TABLE denylist;
DROP TABLE refresh_tokens;
DROP TABLE families;
