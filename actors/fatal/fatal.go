// Package fatal is the error a service returns when the node cannot go on
// without it: it stops the whole supervisor tree and carries the process's
// exit code, in the manner of syncthing's svcutil.FatalErr.
package fatal

import (
	"errors"

	"github.com/thejerf/suture/v4"
)

// Error is returned by a service that the node cannot go on without (the
// HTTP listener cannot bind, say). It stops the whole supervisor tree, as
// errors.Is(err, suture.ErrTerminateSupervisorTree) reports, and carries
// the process exit code.
type Error struct {
	Err  error
	Code int
}

// New wraps err as an Error with the given exit code.
func New(err error, code int) *Error { return &Error{Err: err, Code: code} }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Is makes the error stop the supervisor tree.
func (e *Error) Is(target error) bool { return target == suture.ErrTerminateSupervisorTree }

// ExitCode returns the exit code carried by err, if it is or wraps an Error.
func ExitCode(err error) (int, bool) {
	var f *Error
	if errors.As(err, &f) {
		return f.Code, true
	}
	return 0, false
}
