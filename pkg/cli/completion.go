package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tsserve/ts/pkg/cli/complete"
)

// CompletionCmd is `ts completion`: shell completion scripts, and the model names they
// complete with.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish,models" help:"bash, zsh or fish; models prints the server's model names, one per line (the scripts use it)."`
}

func (c *CompletionCmd) Run(g *Globals, k *kong.Context) error {
	if c.Shell != "models" {
		s, err := complete.Script(c.Shell, k.Model)
		if err != nil {
			return err
		}
		_, err = fmt.Fprint(g.Stdout(), s)
		return err
	}
	cl, err := g.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	refs, err := cl.AllModels(ctx)
	if err != nil {
		return err
	}
	for _, r := range refs {
		fmt.Fprintln(g.Stdout(), r.ModelName)
	}
	return nil
}
