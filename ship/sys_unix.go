//go:build unix

package ship

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// fileID returns the device and inode of a file's stat result.
func fileID(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), st.Ino, true
}

// lockState takes an exclusive lock on path+".lock", so that two
// shippers never share one state file: each would send what the other
// sent. The lock ends with the process, kill -9 included.
func lockState(path string) (*os.File, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the state file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state file %s is in use by another nines ship (it holds %s): give each shipper its own --state", path, name)
		}
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return f, nil
}
