package postgres

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Rule: every migration has a version of its own. Two branches that each
// add "the next" migration would otherwise both be version N, and a
// database that ran one would never run the other.
func TestMigrationVersionsAreUnique(t *testing.T) {
	ms, err := loadMigrations(migrations)
	if err != nil {
		t.Fatalf("the embedded migrations: %v", err)
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %d is %s: versions must run 1, 2, 3, ... without gaps", i+1, m.name)
		}
	}
	dup := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
		"migrations/0002_b.sql": {Data: []byte("SELECT 1")},
		"migrations/0002_c.sql": {Data: []byte("SELECT 1")},
	}
	if _, err := loadMigrations(dup); err == nil || !strings.Contains(err.Error(), "0002_b.sql and 0002_c.sql have the same version") {
		t.Errorf("two migrations numbered 2: err = %v", err)
	}
}
