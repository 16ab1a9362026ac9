package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A client that sends its request a byte at a time, or keeps a connection
// open without sending anything, is cut off by the real server after the
// configured timeouts instead of holding a connection for as long as it likes.
// The timeouts are set small so the test is quick; the client trickles faster
// than any per-read timeout would notice, so only a whole-request deadline
// stops it.
func TestSlowClientsAreCutOff(t *testing.T) {
	n := startServe(t, []string{"KEYWARD_DATA_DIR=" + t.TempDir()}, "--read-timeout", "500ms", "--idle-timeout", "500ms")
	n.waitReady()
	const trickle = 100 * time.Millisecond // 50 bytes would take 5 s

	t.Run("body_trickled_a_byte_at_a_time", func(t *testing.T) {
		body := `{"username":"` + strings.Repeat("a", 30) + `@contoso.com"}`
		conn := dial(t, n)
		write(t, conn, "POST /api/v1/auth/passkey/options HTTP/1.1\r\nHost: localhost\r\n"+
			"Content-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n")
		sent, res := trickleUntilAnswered(t, conn, body, trickle)
		if sent == len(body) {
			t.Fatalf("the server waited for the whole trickled body (%d bytes)", sent)
		}
		if res == nil {
			t.Fatal("the connection was closed without a response")
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"requestTimeout"`) {
			t.Fatalf("after %d of %d bytes: %d %s, want 408 requestTimeout", sent, len(body), res.StatusCode, b)
		}
	})
	t.Run("headers_trickled_a_byte_at_a_time", func(t *testing.T) {
		conn := dial(t, n)
		headers := "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + strings.Repeat("a", 50) + "\r\n\r\n"
		sent, _ := trickleUntilAnswered(t, conn, headers, trickle)
		if sent == len(headers) {
			t.Fatalf("the server waited for the whole trickled header (%d bytes)", sent)
		}
	})
	t.Run("idle_keep_alive_connection", func(t *testing.T) {
		conn := dial(t, n)
		write(t, conn, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
		rd := bufio.NewReader(conn)
		res, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		// Send nothing more: the server must close the connection itself.
		_ = conn.SetReadDeadline(time.Now().Add(waitFor))
		if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("idle connection: read = %v, want EOF (closed by the server)", err)
		}
	})
}

func dial(t *testing.T, n *node) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func write(t *testing.T, conn net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatal(err)
	}
}

// trickleUntilAnswered sends data one byte per interval until the server
// answers or closes the connection, and returns how many bytes it sent and
// the response (nil when the server closed without one).
func trickleUntilAnswered(t *testing.T, conn net.Conn, data string, interval time.Duration) (int, *http.Response) {
	t.Helper()
	type answer struct {
		res *http.Response
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(waitFor))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		answered <- answer{res, err}
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case a := <-answered:
			return sent, a.res
		case <-tick.C:
		}
		if sent == len(data) {
			a := <-answered
			return sent, a.res
		}
		if _, err := io.WriteString(conn, data[sent:sent+1]); err != nil {
			return sent, (<-answered).res
		}
		sent++
	}
}
