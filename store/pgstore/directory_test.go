package pgstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceDirectory(t *testing.T) {
	dsn := migrated(t)
	storetest.RunDirectory(t, func(t *testing.T) storetest.DirectoryStore { return open(t, dsn, pgstore.Options{}) })
}

func TestDeleteUser_DropsTheirOutboxMail(t *testing.T) {
	st := open(t, testenv.Postgres(t), pgstore.Options{Migrate: true, SweepInterval: -1})
	storetest.RunDirectoryOutbox(t, st, st.Outbox())
}
