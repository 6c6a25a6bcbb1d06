package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultPostgres is the base DSN Postgres uses when SESSIOND_TEST_POSTGRES
// is unset: the machine's PostgreSQL on the loopback interface.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// pgSkipOrFail skips the test with a loud message, or fails it when
// CI=true (CI must never pass by skipping).
func pgSkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "testenv: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing server fails)", msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s\n\n", t.Name(), msg)
	t.Skipf("SKIPPED: %s", msg)
}

func pgRandName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Postgres returns a DSN for a fresh, empty database created for this test
// (dropped, with any connections left to it, in t.Cleanup) on the machine's
// PostgreSQL. SESSIOND_TEST_POSTGRES may give the base DSN (URL or
// keyword/value form, of a role allowed to create databases); the default is
// DefaultPostgres. When the server cannot be reached the test is skipped, or
// fails with CI=true.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SESSIOND_TEST_POSTGRES")
	if base == "" {
		base = DefaultPostgres
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		pgSkipOrFail(t, "PostgreSQL is not reachable (%v); start it or set SESSIOND_TEST_POSTGRES", err)
	}
	defer conn.Close(context.Background())
	name := pgRandName("sessiond_test_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() { pgDropDatabase(t, base, name) })
	return pgWithDatabase(base, name)
}

func pgDropDatabase(t testing.TB, base, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("testenv: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	// WITH (FORCE) (PostgreSQL 13+) ends connections a test left open.
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		if _, err2 := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err2 != nil {
			t.Errorf("testenv: drop database %s: %v", name, errors.Join(err, err2))
		}
	}
}

// pgWithDatabase returns dsn naming database db instead.
func pgWithDatabase(dsn, db string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path, u.RawPath = "/"+db, ""
			return u.String()
		}
	}
	return dsn + " dbname=" + db // keyword/value: the last setting wins
}

// PGServer is a throwaway PostgreSQL cluster that StartPostgres runs for one
// test. It listens on 127.0.0.1:Port (and a Unix socket in its directory),
// with trust authentication for the user postgres. Its methods are safe for
// concurrent use; they fail the test when the server does not do as asked.
//
// The cluster runs with fsync=off: a commit survives a crash of the server
// process (Crash), not of the machine.
type PGServer struct {
	// DSN is a URL for the database postgres on this server.
	DSN string
	// Port is the TCP port, the same across Stop and Start.
	Port int
	// Dir holds the data directory (Dir/data) and the server log
	// (Dir/postgres.log).
	Dir string

	bin  string        // directory of initdb and postgres
	cred *pgCredential // the user the server runs as; nil for ourselves

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// pgCredential is a user to run the server as (postgres refuses root).
type pgCredential struct{ uid, gid uint32 }

// StartPostgres initialises a new PostgreSQL cluster in a temporary
// directory and starts it on a free loopback port, for tests that must stop
// or restart the server. Running as root, the cluster belongs to and runs as
// the user SESSIOND_TEST_PGUSER, else postgres, else nobody. The binaries
// are found in SESSIOND_TEST_PGBIN, PATH, or the usual install directories.
// The server is stopped and its directory removed in t.Cleanup. Missing
// binaries skip the test, or fail it with CI=true.
func StartPostgres(t testing.TB) *PGServer {
	t.Helper()
	bin, err := pgFindBin()
	if err != nil {
		pgSkipOrFail(t, "%v", err)
	}
	s := &PGServer{bin: bin}
	if os.Geteuid() == 0 {
		s.cred, err = pgLookupUser()
		if err != nil {
			pgSkipOrFail(t, "running as root and %v", err)
		}
	}
	// Not t.TempDir: its parents are private to us, and the server may run
	// as another user.
	s.Dir, err = os.MkdirTemp("", "sessiond-pg-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		s.stop(t, syscall.SIGINT, 30*time.Second)
		if err := os.RemoveAll(s.Dir); err != nil {
			t.Errorf("testenv: remove %s: %v", s.Dir, err)
		}
	})
	if s.cred != nil {
		if err := os.Chown(s.Dir, int(s.cred.uid), int(s.cred.gid)); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	initdb := s.command(filepath.Join(bin, "initdb"), "-D", filepath.Join(s.Dir, "data"), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
	// A port found free may be taken before the server binds it: retry.
	for attempt := 1; ; attempt++ {
		s.Port = pgFreePort(t)
		s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
		err := s.start()
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(err.Error(), "could not bind") {
			t.Fatalf("testenv: start postgres: %v", err)
		}
	}
}

// Start starts the stopped server again on the same port and waits until it
// accepts connections.
func (s *PGServer) Start(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("testenv: start postgres: %v", err)
	}
}

// Stop shuts the server down the way an operator does (fast shutdown:
// sessions are ended, transactions rolled back, a checkpoint written) and
// waits until it has exited.
func (s *PGServer) Stop(t testing.TB) {
	t.Helper()
	if !s.stop(t, syscall.SIGINT, 60*time.Second) {
		t.Fatal("testenv: stop postgres: the server was not running")
	}
}

// Crash stops the server the way a crash does (immediate shutdown: no
// checkpoint; the next Start replays the WAL) and waits until it has exited.
func (s *PGServer) Crash(t testing.TB) {
	t.Helper()
	if !s.stop(t, syscall.SIGQUIT, 60*time.Second) {
		t.Fatal("testenv: crash postgres: the server was not running")
	}
}

// Restart is Stop followed by Start.
func (s *PGServer) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.Start(t)
}

func (s *PGServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	env := []string{"LC_ALL=C", "LANG=C"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.SysProcAttr = pgSysProcAttr(s.cred)
	return cmd
}

func (s *PGServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	logPath := filepath.Join(s.Dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child keeps its own copy
	off, _ := logf.Seek(0, 2)
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.Dir, "data"),
		"-p", strconv.Itoa(s.Port), "-k", s.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "logging_collector=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN)
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case <-exited:
			s.cmd, s.exited = nil, nil
			return fmt.Errorf("postgres exited during start-up:\n%s", pgLogSince(logPath, off))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			s.cmd, s.exited = nil, nil
			return fmt.Errorf("postgres did not accept connections within 60s (%v):\n%s", err, pgLogSince(logPath, off))
		}
	}
}

// stop sends sig to the postmaster and waits up to grace for it to exit,
// then kills it. It reports whether the server was running.
func (s *PGServer) stop(t testing.TB, sig os.Signal, grace time.Duration) bool {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(grace):
		t.Errorf("testenv: postgres did not stop within %v; killing it", grace)
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd, s.exited = nil, nil
	return true
}

func pgLogSince(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if off <= int64(len(b)) {
		b = b[off:]
	}
	return string(bytes.TrimSpace(b))
}

func pgFreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// pgFindBin returns the directory holding initdb and postgres.
func pgFindBin() (string, error) {
	ok := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("SESSIOND_TEST_PGBIN"); dir != "" {
		if ok(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("SESSIOND_TEST_PGBIN=%s holds no initdb and postgres", dir)
	}
	if p, err := exec.LookPath("initdb"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	var cands []string
	for _, pat := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql*/bin",
		"/usr/local/opt/postgresql*/bin", "/usr/local/pgsql/bin"} {
		m, _ := filepath.Glob(pat)
		cands = append(cands, m...)
	}
	// Prefer the newest major version.
	ver := func(dir string) int {
		s := strings.TrimLeftFunc(filepath.Base(filepath.Dir(dir)), func(r rune) bool { return r < '0' || r > '9' })
		n, _ := strconv.Atoi(strings.SplitN(s, ".", 2)[0])
		return n
	}
	slices.SortStableFunc(cands, func(a, b string) int { return ver(b) - ver(a) })
	for _, dir := range cands {
		if ok(dir) {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found; install postgresql or set SESSIOND_TEST_PGBIN")
}

func pgLookupUser() (*pgCredential, error) {
	names := []string{"postgres", "nobody"}
	if n := os.Getenv("SESSIOND_TEST_PGUSER"); n != "" {
		names = []string{n}
	}
	for _, n := range names {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &pgCredential{uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("no non-root user (%s) to run PostgreSQL as; set SESSIOND_TEST_PGUSER", strings.Join(names, ", "))
}
