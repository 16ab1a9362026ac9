package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTicks is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat (100 on every Linux Keyward runs on).
const clockTicks = 100

// dbCPU reads the CPU time PostgreSQL spends serving the benchmark's
// database: the sum of user and system time, from /proc, of the server
// processes (backends) connected to that database, the benchmark's own
// connection excepted. PostgreSQL's background processes (WAL writer,
// checkpointer) and backends of other databases on the same server are
// not counted. A backend that exits during a level takes its CPU with it,
// which the pool (connections live for minutes) makes rare.
type dbCPU struct {
	conn *pgx.Conn
}

// openDBCPU connects to the PostgreSQL database at dsn to read its
// backends' CPU. It returns why not when that cannot be done here: a
// server on another machine, a platform without /proc, processes this
// user cannot see (another PID namespace, a container).
func openDBCPU(ctx context.Context, dsn string) (*dbCPU, string) {
	if runtime.GOOS != "linux" {
		return nil, "needs Linux's /proc"
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, "the database URL: " + err.Error()
	}
	if !localHost(cfg.Host) {
		return nil, fmt.Sprintf("PostgreSQL at %s is not on this machine", cfg.Host)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, "connecting: " + err.Error()
	}
	d := &dbCPU{conn: conn}
	var pid int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		d.close(ctx)
		return nil, "pg_backend_pid(): " + err.Error()
	}
	if _, err := processCPU(pid); err != nil {
		d.close(ctx)
		return nil, fmt.Sprintf("PostgreSQL's processes are not visible here (backend %d: %v)", pid, err)
	}
	return d, ""
}

// localHost says whether a libpq host is this machine: a Unix socket
// directory or a loopback name or address.
func localHost(h string) bool {
	if strings.HasPrefix(h, "/") || h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// read returns the CPU time the database's backends have used so far.
func (d *dbCPU) read(ctx context.Context) (time.Duration, error) {
	rows, err := d.conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return 0, fmt.Errorf("listing PostgreSQL's backends: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, fmt.Errorf("listing PostgreSQL's backends: %w", err)
	}
	var total time.Duration
	for _, pid := range pids {
		t, err := processCPU(int(pid))
		if errors.Is(err, os.ErrNotExist) {
			continue // it exited meanwhile
		}
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

func (d *dbCPU) close(ctx context.Context) {
	if d != nil {
		_ = d.conn.Close(ctx)
	}
}

// processCPU is a process's user + system time from /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line; the command name (field 2) may hold spaces and
// parentheses, so fields are counted from its closing parenthesis.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// DatabaseCPU reads the CPU time PostgreSQL's backends spend serving one
// database, as the levels' PostgreSQL CPU is read (see dbCPU): for the
// sign-in floor's PostgreSQL part (internal/app, BenchmarkSignInFloor).
type DatabaseCPU struct{ d *dbCPU }

// OpenDatabaseCPU connects to the local PostgreSQL database at dsn; the
// error says why its backends' CPU cannot be read here.
func OpenDatabaseCPU(ctx context.Context, dsn string) (*DatabaseCPU, error) {
	d, why := openDBCPU(ctx, dsn)
	if d == nil {
		return nil, errors.New(why)
	}
	return &DatabaseCPU{d: d}, nil
}

// Read returns the CPU time the database's backends have used so far.
func (c *DatabaseCPU) Read(ctx context.Context) (time.Duration, error) { return c.d.read(ctx) }

// Close ends the connection.
func (c *DatabaseCPU) Close(ctx context.Context) { c.d.close(ctx) }
