package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
)

// RegisterCmd is `ts register`: a URL or a name in the server's model store is passed on as
// TorchServe's url; a local archive is registered by its path when the server can read it
// (a local server's model store), and uploaded otherwise.
type RegisterCmd struct {
	Archive       string `arg:"" placeholder:"ARCHIVE|URL" help:"Archive file or folder, a name in the server's model store, or an http(s) URL."`
	Name          string `name:"name" aliases:"model-name" placeholder:"NAME" help:"Model name (default: the manifest's)."`
	Version       string `name:"version" placeholder:"VERSION" help:"Model version (default: the manifest's)."`
	Handler       string `name:"handler" placeholder:"HANDLER" help:"Handler (default: the manifest's)."`
	Workers       int    `name:"workers" aliases:"initial-workers" default:"1" help:"Workers to start (TorchServe's initial_workers)."`
	BatchSize     int    `name:"batch-size" placeholder:"N" help:"Largest batch."`
	MaxBatchDelay int    `name:"max-batch-delay" placeholder:"MS" help:"Longest wait for a batch to fill, in milliseconds."`
	Timeout       int    `name:"timeout" aliases:"response-timeout" placeholder:"SECONDS" help:"Response timeout."`
	Sync          bool   `name:"sync" default:"true" negatable:"" help:"Wait until the model's workers run."`
	Upload        bool   `name:"upload" help:"Upload the local archive even if the server could read it."`
}

func (c *RegisterCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	workers := c.Workers
	o := client.RegisterOptions{URL: c.Archive, Name: c.Name, Version: c.Version, Handler: c.Handler, BatchSize: c.BatchSize,
		MaxBatchDelay: c.MaxBatchDelay, ResponseTime: c.Timeout, InitialWorkers: &workers, Synchronous: c.Sync}
	st, statErr := os.Stat(c.Archive)
	local := statErr == nil && !strings.Contains(c.Archive, "://")
	if local && !c.Upload {
		abs, _ := filepath.Abs(c.Archive)
		o.URL = abs
		status, err := cl.Register(ctx, o)
		var apiErr *client.Error
		if err == nil || !errors.As(err, &apiErr) || (apiErr.Code != 400 && apiErr.Code != 404) || st.IsDir() {
			if err != nil {
				return fmt.Errorf("register %s: %w", c.Archive, err)
			}
			return done(g, status)
		}
		// the server cannot read the file: send it
	}
	if local {
		if st.IsDir() {
			return term.Usagef("%s is a folder: a server reads folders from its own model store; pack it into a .mar to upload it", c.Archive)
		}
		io := g.IO()
		var progress func(sent, total int64)
		if st.Size() > 8<<20 {
			bar := io.NewProgress("uploading "+filepath.Base(c.Archive), st.Size())
			defer bar.Done()
			progress = func(sent, total int64) { bar.Set(sent) }
		}
		status, err := cl.Upload(ctx, c.Archive, o, progress)
		if err != nil {
			var apiErr *client.Error
			if errors.As(err, &apiErr) && apiErr.Code == 405 {
				// the server's own message says the same: say it once, with both ways out
				return fmt.Errorf("upload %s: the server cannot read this file and does not take uploads: put it in the server's model store, or start ts serve with --enable-upload", c.Archive)
			}
			return fmt.Errorf("upload %s: %w", c.Archive, err)
		}
		return done(g, status)
	}
	status, err := cl.Register(ctx, o)
	var apiErr *client.Error
	// not here, and the server found nothing at that url (404) or will not look there (a path
	// outside its store: 400 BadRequestException; a broken archive it found is another type)
	refused := errors.As(err, &apiErr) && (apiErr.Code == 404 || apiErr.Code == 400 && apiErr.Type == "BadRequestException")
	if refused && errors.Is(statErr, fs.ErrNotExist) && !strings.Contains(c.Archive, "://") {
		return term.WithCode(term.ExitNotFound, fmt.Errorf("register %s: no such file here, nor in the server's model store (%w)", c.Archive, err))
	}
	if err != nil {
		return fmt.Errorf("register %s: %w", c.Archive, err)
	}
	return done(g, status)
}
