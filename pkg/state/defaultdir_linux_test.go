package state_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/state"
)

// DefaultDir reads the environment, so these tests cannot run in
// parallel (t.Setenv forbids it).
func TestDefaultDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(t *testing.T) string
	}{
		{
			name: "VIGIL_STATE_DIR wins",
			env:  map[string]string{"VIGIL_STATE_DIR": "/var/lib/vigil-test", "XDG_CACHE_HOME": "/cache"},
			want: func(*testing.T) string { return "/var/lib/vigil-test" },
		},
		{
			name: "the user's cache directory is used without VIGIL_STATE_DIR",
			env:  map[string]string{"VIGIL_STATE_DIR": "", "XDG_CACHE_HOME": "/cache"},
			want: func(*testing.T) string { return "/cache/vigil" },
		},
		{
			name: "the temporary directory is used when there is no cache directory",
			env:  map[string]string{"VIGIL_STATE_DIR": "", "XDG_CACHE_HOME": "", "HOME": ""},
			want: func(*testing.T) string { return filepath.Join(os.TempDir(), "vigil") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			require.Equal(t, tt.want(t), state.DefaultDir())
		})
	}
}
