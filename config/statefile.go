package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// setStateFile takes STATE_FILE once it can be the state file, so that a
// typo stops the node at start rather than failing every write later: its
// directory must exist, and the path must be a file this node may read, or
// nothing yet. A directory at the path is refused, never renamed aside,
// and a file the node may not read is an error, not corruption to start
// fresh from.
func setStateFile(c *Config, path string) error {
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
		c.StateFile = path
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
	c.StateFile = path
	return f.Close()
}
