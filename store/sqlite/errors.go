package sqlite

import (
	"errors"
	"fmt"
	"syscall"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nines-sre/nines/store"
)

// coder is the driver's error: SQLite's result code, extended codes
// included (SQLITE_IOERR_FSYNC is SQLITE_IOERR | 4<<8).
type coder interface{ Code() int }

// classify wraps err with the store sentinel its cause calls for, so that
// callers tell a failing disk from a bad request without reading SQLite's
// codes: a full disk is store.ErrFull; an I/O error, a lock held past the
// busy timeout and the like are store.ErrUnavailable. Anything else is
// returned as it is. SQLite rolls a transaction back on each of these
// (the driver issues the ROLLBACK when COMMIT fails), so nothing of the
// failed write is stored.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrFull) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: %w", store.ErrFull, err)
	}
	if errors.Is(err, syscall.EIO) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	var c coder
	if !errors.As(err, &c) {
		return err
	}
	switch c.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %w", store.ErrFull, err)
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		// SQLITE_READONLY and SQLITE_PERM: the file or its directory lost
		// write permission under the server, which an operator can fix.
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
