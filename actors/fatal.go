package actors

import (
	"errors"

	"github.com/thejerf/suture/v4"
)

// FatalError is returned by a service that the node cannot go on without
// (the HTTP listener cannot bind, say). It stops the whole supervisor tree,
// as errors.Is(err, suture.ErrTerminateSupervisorTree) reports, and carries
// the process exit code, in the manner of syncthing's svcutil.FatalErr.
type FatalError struct {
	Err  error
	Code int
}

// Fatal wraps err as a FatalError with the given exit code.
func Fatal(err error, code int) *FatalError { return &FatalError{Err: err, Code: code} }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// Is makes the error stop the supervisor tree.
func (e *FatalError) Is(target error) bool { return target == suture.ErrTerminateSupervisorTree }

// ExitCode returns the exit code carried by err, if it is or wraps a FatalError.
func ExitCode(err error) (int, bool) {
	var f *FatalError
	if errors.As(err, &f) {
		return f.Code, true
	}
	return 0, false
}
