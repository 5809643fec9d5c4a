package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/client"
)

// hintShown is how many of the server's models a "Model not found" hint names.
const hintShown = 10

// withModelHint adds to a server's "Model not found" answer what the server has: the closest
// of its models' names when one is close to the name asked for ("did you mean seg?"), and
// their names, so that a typo shows its fix. It asks the server (the management API) once,
// briefly; when that fails, err stays as it is.
func (g *Globals) withModelHint(err error) error {
	var answer *client.Error
	if g.client == nil || !errors.As(err, &answer) || answer.Type != apierror.TypeModelNotFound {
		return err
	}
	asked, ok := strings.CutPrefix(answer.Message, "Model not found: ") // not an archive missing from the store
	if !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	names, lerr := serverModels(ctx, g.client)
	if lerr != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("%w (the server has no models: register one with ts register ARCHIVE)", err)
	}
	hint := "the server has " + strings.Join(names[:min(len(names), hintShown)], ", ")
	if len(names) > hintShown {
		hint += fmt.Sprintf(" and %d more (ts list)", len(names)-hintShown)
	}
	if best := closest(asked, names); best != "" {
		hint = "did you mean " + best + "? " + hint
	}
	return fmt.Errorf("%w (%s)", err, hint)
}

// serverModels are the names of the server's models, sorted.
func serverModels(ctx context.Context, cl *client.Client) ([]string, error) {
	refs, err := cl.AllModels(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.ModelName
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// closest is the name among names nearest to s (case aside) by edit distance, when it is near
// enough to be a typo of it (at most a third of its letters, at least one, differ); "" when
// none is.
func closest(s string, names []string) string {
	if s == "" {
		return ""
	}
	best, bestDistance := "", max(1, len([]rune(s))/3)+1
	for _, name := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(name)); d < bestDistance {
			best, bestDistance = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
