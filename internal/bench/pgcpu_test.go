package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPUAddsUserAndSystemTime(t *testing.T) {
	// A command name with spaces and a parenthesis; utime 250, stime 50 ticks.
	stat := "4242 (postgres: a) b) S 2200 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 1 0 100 0 0"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	for _, bad := range []string{"", "4242 (postgres", "4242 (postgres) S 1 2 3", "1 (p) S 1 1 1 0 -1 0 0 0 0 0 x 50"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
	if _, err := processCPU(os.Getpid()); err != nil && !os.IsNotExist(err) {
		t.Errorf("this process's own /proc stat: %v", err)
	}
}

func TestLocalHostIsASocketOrLoopback(t *testing.T) {
	for h, want := range map[string]bool{"/var/run/postgresql": true, "localhost": true, "127.0.0.1": true,
		"::1": true, "db.internal": false, "10.0.0.5": false, "": false} {
		if got := localHost(h); got != want {
			t.Errorf("localHost(%q) = %v, want %v", h, got, want)
		}
	}
}
