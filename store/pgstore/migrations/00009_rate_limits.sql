-- +goose Up
-- Failed-login limits shared by every node (GCRA, see package ratelimit):
-- one theoretical arrival time per limiter scope and key, in Unix
-- nanoseconds. A row whose tat has passed is as if absent; the sweeper
-- deletes such rows.
CREATE TABLE rate_limits (
    scope text NOT NULL,
    key   text NOT NULL,
    tat   bigint NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_limits_by_tat ON rate_limits (tat);

-- +goose Down
DROP TABLE rate_limits;
