package memstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceDirectory(t *testing.T) {
	storetest.RunDirectory(t, func(*testing.T) storetest.DirectoryStore { return memstore.New(nil) })
}
