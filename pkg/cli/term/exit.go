// Package term holds what every ts and tsarchive command shares at the terminal: the
// output streams, error messages and exit codes. It is pure Go (tsarchive builds without cgo).
package term

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes, documented in docs/cli.md. Each error kind maps to one code here and nowhere else.
const (
	ExitOK          = 0
	ExitError       = 1 // anything else that failed
	ExitUsage       = 2 // bad flags or arguments
	ExitUnreachable = 3 // the server could not be reached
	ExitNotFound    = 4 // the model, version or file does not exist
	ExitAuth        = 5 // the server refused the token, or the request lacks a restricted API's header
)

// ExitCodeError carries an exit code with an error.
type ExitCodeError struct {
	Code int
	Err  error
}

func (e *ExitCodeError) Error() string { return e.Err.Error() }
func (e *ExitCodeError) Unwrap() error { return e.Err }

// WithCode marks err with an exit code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitCodeError{Code: code, Err: err}
}

// Usagef is a usage error (exit 2).
func Usagef(format string, args ...any) error {
	return WithCode(ExitUsage, fmt.Errorf(format, args...))
}

// Code returns the exit code for err.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *ExitCodeError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitError
}

// Report prints err as one line, "prog: message", and returns its exit code.
func Report(w io.Writer, prog string, err error) int {
	if err == nil {
		return ExitOK
	}
	msg := Printable(strings.Join(strings.Fields(err.Error()), " "))
	fmt.Fprintf(w, "%s: %s\n", prog, msg)
	return Code(err)
}
