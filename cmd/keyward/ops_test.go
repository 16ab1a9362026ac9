package main

import (
	"testing"

	"github.com/keyward/keyward/internal/storage/sqlite"
)

func TestSQLiteSynchronousSettingReachesTheDatabase(t *testing.T) {
	for _, tc := range []struct{ setting, want string }{{"", "1"}, {"normal", "1"}, {"full", "2"}} {
		t.Run("setting_"+tc.setting, func(t *testing.T) {
			env := sqliteEnv(t)
			if tc.setting != "" {
				env = append(env, "KEYWARD_SQLITE_SYNCHRONOUS="+tc.setting)
			}
			st := openTestStore(t, env).(*sqlite.Store)
			var got string
			if err := st.Writer().QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA synchronous = %s, want %s", got, tc.want)
			}
		})
	}
}
