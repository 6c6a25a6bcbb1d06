-- +goose Up
-- OpenID Connect back-channel logout (relying party): the logout tokens
-- already accepted, by issuer and jti, kept until they could no longer be
-- valid (replay protection), and the local sessions that began from a
-- provider's session (issuer, sid), kept until the local session's absolute
-- expiry. Expired rows are ignored, and deleted in small batches on write.
CREATE TABLE oidc_logout_jtis (
    issuer     text NOT NULL,
    jti        text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX oidc_logout_jtis_by_expiry ON oidc_logout_jtis (expires_at);

CREATE TABLE oidc_upstream_sessions (
    issuer     text NOT NULL,
    sid        text NOT NULL,
    session_id text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, sid, session_id)
);
CREATE INDEX oidc_upstream_sessions_by_expiry ON oidc_upstream_sessions (expires_at);

-- +goose Down
DROP TABLE oidc_upstream_sessions;
DROP TABLE oidc_logout_jtis;
