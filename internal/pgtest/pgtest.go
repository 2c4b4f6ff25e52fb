// Package pgtest runs a throwaway PostgreSQL server for tests: initdb into
// a temporary directory, postgres listening on a unix socket in that
// directory only (no TCP port, so parallel test binaries never collide),
// one server per test binary and a fresh database per test.
//
// PostgreSQL refuses to run as root, and CI runs as root: the server then
// runs as an unprivileged user (postgres, which Debian's package creates,
// or nobody), which owns the temporary directory. The binaries are looked
// up on PATH, then in /usr/lib/postgresql/*/bin (Debian's layout). Without
// them a test is skipped, or fails when CI=true, so that CI never passes
// by skipping.
//
// A test package that uses it calls Main from its TestMain, which stops the
// server when the tests end:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL of one test binary.
type Server struct {
	dir  string // data directory and socket directory
	cmd  *exec.Cmd
	log  *bytes.Buffer // the server's stderr, for failures
	user string        // the database superuser
	port int
	mu   sync.Mutex // guards log (written by the process)
	exit chan struct{}
}

// Options tune Start.
type Options struct {
	// Fsync keeps PostgreSQL's fsync and synchronous_commit on, as in
	// production: benchmarks want it, tests do not (they would spend
	// their time waiting for the disk).
	Fsync bool
}

var (
	shared   *Server
	sharedMu sync.Mutex
	sharedOK bool // Start was attempted
	startErr error
	dbSeq    atomic.Int64
)

// ErrNoBinaries is returned by Start when initdb or postgres is not found.
var ErrNoBinaries = errors.New("pgtest: PostgreSQL binaries (initdb, postgres) not found on PATH nor in /usr/lib/postgresql/*/bin; install Debian's postgresql package")

// Main runs the tests and stops the shared server afterwards. Use it from
// TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		shared = nil
	}
	return code
}

// URL returns the URL of a new, empty database on the test binary's
// server, started on first use, and drops the database when t ends.
// Without PostgreSQL the test is skipped, or fails when CI=true.
func URL(t testing.TB) string {
	t.Helper()
	s := sharedServer(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends connections a failed test left open.
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s.DatabaseURL(name)
}

// CutOff makes the database at dbURL (from URL) refuse new connections
// and ends those open, as a network cut or a failover does to a client;
// the function it returns lets connections in again.
func CutOff(t testing.TB, dbURL string) (restore func()) {
	t.Helper()
	s := sharedServer(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	name := pgx.Identifier{db}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, sql := range []string{
		"ALTER DATABASE " + name + " ALLOW_CONNECTIONS false",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + strings.ReplaceAll(db, "'", "''") + "'",
	} {
		if err := s.exec(ctx, sql); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	return func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.exec(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	}
}

func sharedServer(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !sharedOK {
		sharedOK = true
		shared, startErr = Start(Options{})
	}
	if startErr != nil {
		if errors.Is(startErr, ErrNoBinaries) && os.Getenv("CI") != "true" {
			t.Skip(startErr)
		}
		t.Fatal(startErr)
	}
	return shared
}

// Bin returns the directory holding initdb and postgres.
func Bin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// The newest major version first.
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func version(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// runAs returns the credentials to run PostgreSQL with: none when the
// process is not root, else those of the postgres user or of nobody.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, errors.New("pgtest: running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as; PostgreSQL refuses root")
}

// baseDir returns where the server's directory goes: the temporary
// directory, unless the server's user could not reach it (a TMPDIR under
// /root) or its socket's path would be too long for a unix socket (107
// bytes), when /tmp.
func baseDir(cred *syscall.Credential) string {
	base := os.TempDir()
	if len(base) > 60 {
		return "/tmp"
	}
	if cred == nil {
		return base
	}
	for d := base; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return base
		}
	}
}

// Start runs initdb into a new temporary directory and starts postgres on
// a unix socket there. Stop it with Stop.
func Start(opts Options) (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(baseDir(cred), "nines-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	data := filepath.Join(dir, "data")
	s := &Server{dir: dir, user: "nines", port: 5432, log: &bytes.Buffer{}, exit: make(chan struct{})}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", s.user, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = procAttr(cred, 0)
	initdb.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w\n%s", err, out))
	}
	args := []string{"-D", data, "-k", dir, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=", "-c", "max_connections=200", "-c", "shared_buffers=64MB"}
	if !opts.Fsync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	// The server dies with the test binary even if Stop is never called
	// (a test binary killed by its timeout).
	s.cmd.SysProcAttr = procAttr(cred, syscall.SIGQUIT)
	s.cmd.Stdout, s.cmd.Stderr = s.writer(), s.writer()
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("pgtest: postgres: %w", err))
	}
	go func() { _ = s.cmd.Wait(); close(s.exit) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

type logWriter struct{ s *Server }

func (w logWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

func (s *Server) writer() logWriter { return logWriter{s} }

// Log returns what the server wrote so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.exec(ctx, "SELECT 1")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exit:
			return fmt.Errorf("pgtest: postgres exited at start: %s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: postgres not ready after %v: %v\n%s", limit, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DatabaseURL returns the URL of database name on s.
func (s *Server) DatabaseURL(name string) string {
	return fmt.Sprintf("postgres:///%s?host=%s&port=%d&user=%s&sslmode=disable", name, s.dir, s.port, s.user)
}

// Exec runs one statement on the postgres database, as the superuser.
func (s *Server) exec(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, s.DatabaseURL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	return s.DatabaseURL(name), nil
}

// Stop shuts the server down (fast shutdown: open sessions are ended)
// and removes its directory.
func (s *Server) Stop() error {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exit:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exit
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// Exec runs statement on the postgres database of the test binary's
// server as the superuser: for tests that take a database away
// (ALTER DATABASE … ALLOW_CONNECTIONS false, pg_terminate_backend).
func Exec(t testing.TB, statement string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sharedServer(t).exec(ctx, statement); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// DatabaseName returns the database a URL from URL names.
func DatabaseName(rawURL string) string {
	rest, _, _ := strings.Cut(strings.TrimPrefix(rawURL, "postgres:///"), "?")
	return rest
}
