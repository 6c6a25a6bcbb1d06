-- +goose Up
-- OpenID Connect back-channel logout (relying party): the logout tokens
-- already accepted, by issuer and jti, kept until they could no longer be
-- valid (replay protection), and the local sessions that began from a
-- provider's session (issuer, sid), kept until the local session's absolute
-- expiry. Times are Unix ms; expired rows are ignored and deleted on write.
CREATE TABLE oidc_logout_jtis (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT;
CREATE INDEX oidc_logout_jtis_expires ON oidc_logout_jtis (expires_at);

CREATE TABLE oidc_upstream_sessions (
    issuer     TEXT NOT NULL,
    sid        TEXT NOT NULL,
    session_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, sid, session_id)
) STRICT;
CREATE INDEX oidc_upstream_sessions_expires ON oidc_upstream_sessions (expires_at);

-- +goose Down
DROP TABLE oidc_upstream_sessions;
DROP TABLE oidc_logout_jtis;
