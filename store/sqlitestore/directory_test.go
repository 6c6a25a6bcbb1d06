package sqlitestore_test

import (
	"testing"

	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceDirectory(t *testing.T) {
	storetest.RunDirectory(t, func(t *testing.T) storetest.DirectoryStore { return open(t) })
}

func TestDeleteUser_DropsTheirOutboxMail(t *testing.T) {
	st := open(t)
	storetest.RunDirectoryOutbox(t, st, st.Outbox())
}
