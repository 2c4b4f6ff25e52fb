//go:build !unix

package ship

import (
	"errors"
	"io/fs"
	"os"
)

// fileID is unknown off Unix; New refuses to start there.
func fileID(fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }

func lockState(string) (*os.File, error) {
	return nil, errors.New("nines ship runs on Unix systems only: it follows files by device and inode")
}
