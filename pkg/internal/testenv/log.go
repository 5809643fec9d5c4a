package testenv

import (
	"log/slog"
	"strings"
	"sync"
)

// Log is the text a logger made by NewLog writes, which a test can read while the logger is
// in use.
type Log struct {
	mu sync.Mutex
	b  strings.Builder
}

// NewLog returns a logger that writes every record, Debug included, as slog's text lines
// (level=WARN msg="..." key=value) into the returned Log.
func NewLog() (*Log, *slog.Logger) {
	l := &Log{}
	return l, slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
