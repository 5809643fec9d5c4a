package e2e

import (
	"os"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	os.Exit(code)
}
