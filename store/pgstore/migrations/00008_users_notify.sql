-- +goose Up
-- Every change to a user row is announced on the channel sessiond_users
-- (payload: the user ID), whoever makes it (a node, the CLI, a script), so
-- that every node's near cache of users drops the row at once.
-- +goose StatementBegin
CREATE FUNCTION sessiond_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('sessiond_users', OLD.id);
  ELSE
    PERFORM pg_notify('sessiond_users', NEW.id);
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER sessiond_users_changed AFTER UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION sessiond_users_changed();

-- +goose Down
DROP TRIGGER sessiond_users_changed ON users;
DROP FUNCTION sessiond_users_changed();
