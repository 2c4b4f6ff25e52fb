package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nines-sre/nines/store"
)

// classify wraps err with the store sentinel its cause calls for, so that
// callers tell a failing database from a bad request without reading
// SQLSTATE codes: a full disk is store.ErrFull; a lost connection, a
// server shutting down, a lock or serialisation conflict and the like are
// store.ErrUnavailable; a value PostgreSQL cannot hold (a NUL byte in a
// text, invalid UTF-8) is store.ErrInvalid. Anything else is returned as
// it is. A transaction that failed is rolled back, so nothing of the
// failed write is stored (a COMMIT that lost its connection may have
// committed or not: the caller was not told it did, and retries).
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrFull) || errors.Is(err, store.ErrInvalid) {
		return err
	}
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		// Whatever the server said (shutting down, not accepting
		// connections to this database, too many clients), nines could
		// not reach its store.
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	if errors.As(err, &pe) {
		switch c := pe.Code; {
		case c == "53100": // disk_full
			return fmt.Errorf("%w: %w", store.ErrFull, err)
		case strings.HasPrefix(c, "08"), // connection exception
			strings.HasPrefix(c, "53"), // insufficient resources
			strings.HasPrefix(c, "57"), // operator intervention: shutdown, cancel
			strings.HasPrefix(c, "58"), // system error: I/O
			strings.HasPrefix(c, "40"), // serialisation failure, deadlock
			c == "55P03",               // lock_not_available
			c == "25006",               // read_only_sql_transaction: a standby
			c == "XX001", c == "XX002": // data or index corrupted
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		case strings.HasPrefix(c, "22"): // data exception
			return fmt.Errorf("%w: %w", store.ErrInvalid, err)
		}
		return err
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: %w", store.ErrFull, err)
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EIO), pgconn.SafeToRetry(err), pgconn.Timeout(err),
		strings.Contains(err.Error(), "conn closed"), strings.Contains(err.Error(), "closed pool"):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
