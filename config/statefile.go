package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckStateFile checks that STATE_FILE can be the state file on this
// machine, so that a typo stops the node at start rather than failing
// every write later: its directory must exist, and the path must be a file
// this node may read, or nothing yet. A directory at the path is refused,
// never renamed aside, and a file the node may not read is an error, not
// corruption to start fresh from. It looks at the file system, which Load
// does not (a manifest's settings are checked where the path is not), so
// the node calls it once loaded; the error names the setting.
func (c Config) CheckStateFile() error {
	if c.StateFile == "" {
		return nil
	}
	if err := checkStateFile(c.StateFile); err != nil {
		return fmt.Errorf("invalid STATE_FILE=%q: %v", c.StateFile, err)
	}
	return nil
}

func checkStateFile(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s does not exist", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	st, err = os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err == nil && !st.Mode().IsRegular():
		return errors.New("is a directory or another non-file; it must name a file (which need not exist yet)")
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return fmt.Errorf("cannot be read: %v", err)
	}
	return f.Close()
}
