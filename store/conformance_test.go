package store_test

import (
	"path/filepath"
	"testing"

	"github.com/assay-monitor/assay/store"
	"github.com/assay-monitor/assay/store/storetest"
)

// The SQLite store passes the tests every driver passes.
func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() storetest.Store {
		path := filepath.Join(t.TempDir(), "assay.db")
		return func() storetest.Store {
			s, err := store.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}
