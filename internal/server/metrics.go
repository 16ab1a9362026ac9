package server

import (
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/storage"
)

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newHTTPMetrics registers the HTTP metrics, and the database pool metrics
// when the store exposes its database/sql pools (Stats, or Writer and Reader).
func newHTTPMetrics(reg *prometheus.Registry, store any) *httpMetrics {
	m := &httpMetrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyward_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern and method.",
			// Sign-in targets are in single milliseconds; admin calls may take longer.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"})),
	}
	if pools := storePools(store); len(pools) > 0 {
		register(reg, prometheus.Collector(&dbCollector{pools: pools}))
	}
	if rt, ok := store.(roundTripper); ok {
		register(reg, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_db_round_trips_total",
			Help: "Requests sent to the database and waited for. PostgreSQL: queries, batches, COPYs and " +
				"statement preparations (BEGIN and COMMIT are queries). SQLite: statements run, BEGIN, " +
				"COMMIT and savepoints included.",
		}, func() float64 { return float64(rt.RoundTrips()) }))
	}
	if ls, ok := store.(logStatser); ok {
		register(reg, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_sqlite_checkpoints_total",
			Help: "Passes of the checkpointer that copies SQLite's write-ahead log back into the database file, beside the writer.",
		}, func() float64 { return float64(ls.LogStats().Checkpoints) }))
		register(reg, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_sqlite_log_restarts_total",
			Help: "Times SQLite's write-ahead log was made to start again from its beginning, holding the writer.",
		}, func() float64 { return float64(ls.LogStats().Restarts) }))
		register(reg, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "keyward_sqlite_writer_held_seconds_total",
			Help: "Time SQLite's one writer was held idle while the log was started again: every write in that time waited.",
		}, func() float64 { return ls.LogStats().WritesHeld.Seconds() }))
	}
	return m
}

// logStatser is a store that copies its write-ahead log back itself (SQLite).
type logStatser interface {
	LogStats() storage.LogStats
}

// roundTripper is a store that counts its database round trips.
type roundTripper interface {
	RoundTrips() uint64
}

// register adds c to reg; when an identical collector is already there (two
// servers on one registry) it reuses that one instead of failing.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("server: register metrics: " + err.Error())
	}
	return c
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
	method = metricMethod(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// metricMethod keeps the method label bounded: arbitrary client-sent method
// names must not create new time series.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// dbStatser is a store on one database/sql pool.
type dbStatser interface {
	Stats() sql.DBStats
}

// dbPools is a store with separate writer and reader pools (the SQL backends).
type dbPools interface {
	Writer() *sql.DB
	Reader() *sql.DB
}

// pool is one connection pool to report, by name.
type pool struct {
	name  string
	stats func() sql.DBStats
}

// storePools finds the pools a store exposes, if any.
func storePools(store any) []pool {
	switch st := store.(type) {
	case dbStatser:
		return []pool{{"main", st.Stats}}
	case dbPools:
		w, r := st.Writer(), st.Reader()
		if w == nil {
			return nil
		}
		stats := func(db *sql.DB) func() sql.DBStats { return db.Stats }
		if q, ok := store.(queuedPools); ok {
			stats = func(db *sql.DB) func() sql.DBStats { return func() sql.DBStats { return q.PoolStats(db) } }
		}
		pools := []pool{{"writer", stats(w)}}
		if r != nil && r != w {
			pools = append(pools, pool{"reader", stats(r)})
		}
		return pools
	}
	return nil
}

// queuedPools is a store whose callers may wait in a queue of its own in
// front of a pool (sqlstore.Store): its waits count as the pool's.
type queuedPools interface {
	PoolStats(*sql.DB) sql.DBStats
}

var (
	poolLabel  = []string{"pool"}
	dbOpenDesc = prometheus.NewDesc("keyward_db_open_connections",
		"Open database connections (in use and idle).", poolLabel, nil)
	dbInUseDesc = prometheus.NewDesc("keyward_db_in_use_connections",
		"Database connections currently in use.", poolLabel, nil)
	dbIdleDesc = prometheus.NewDesc("keyward_db_idle_connections",
		"Idle database connections.", poolLabel, nil)
	dbMaxOpenDesc = prometheus.NewDesc("keyward_db_max_open_connections",
		"Maximum number of open database connections.", poolLabel, nil)
	dbWaitCountDesc = prometheus.NewDesc("keyward_db_wait_count_total",
		"Times a request waited for a free database connection.", poolLabel, nil)
	dbWaitDurationDesc = prometheus.NewDesc("keyward_db_wait_duration_seconds_total",
		"Total time spent waiting for a free database connection.", poolLabel, nil)
)

// dbCollector reads the pool statistics at scrape time.
type dbCollector struct {
	pools []pool
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbOpenDesc, dbInUseDesc, dbIdleDesc, dbMaxOpenDesc, dbWaitCountDesc, dbWaitDurationDesc} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.pools {
		s := p.stats()
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, p.name)
		}
		gauge(dbOpenDesc, float64(s.OpenConnections))
		gauge(dbInUseDesc, float64(s.InUse))
		gauge(dbIdleDesc, float64(s.Idle))
		gauge(dbMaxOpenDesc, float64(s.MaxOpenConnections))
		ch <- prometheus.MustNewConstMetric(dbWaitCountDesc, prometheus.CounterValue, float64(s.WaitCount), p.name)
		ch <- prometheus.MustNewConstMetric(dbWaitDurationDesc, prometheus.CounterValue, s.WaitDuration.Seconds(), p.name)
	}
}
