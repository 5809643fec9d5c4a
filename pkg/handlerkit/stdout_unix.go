//go:build unix

package handlerkit

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// protocolStdout is a copy of stdout for the protocol, after which file descriptor 1 is
// stderr's: what the handler writes to stdout (fmt.Println, a child process) reaches ts's
// log instead of corrupting the protocol.
func protocolStdout() (*os.File, error) {
	fd, err := unix.Dup(1)
	if err != nil {
		return nil, fmt.Errorf("copy stdout for the protocol: %w", err)
	}
	if err := unix.Dup2(2, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("send stdout to stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "protocol"), nil
}
