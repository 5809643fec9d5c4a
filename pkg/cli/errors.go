package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
	"github.com/tsserve/ts/pkg/config"
)

// exitError gives an error its exit code (term's codes, documented in docs/cli.md): the server
// could not be reached, something was not found, the server refused the token.
func exitError(err error) error {
	if err == nil || term.Code(err) != term.ExitError {
		return err
	}
	var unreachable *client.UnreachableError
	var api *client.Error
	switch {
	case errors.As(err, &unreachable):
		var cert *tls.CertificateVerificationError
		if errors.As(err, &cert) {
			return term.WithCode(term.ExitUnreachable, fmt.Errorf("%w (trust it with --ca-file, or skip the check with --insecure)", err))
		}
		where := fmt.Sprintf("set --host or $%s", config.EnvHost)
		switch unreachable.API { // derived from --host unless set: say which flag moves it
		case "management":
			where = fmt.Sprintf("set --management-host or $%s; by default --host's name with port %d", config.EnvManagementHost, client.ManagementPort)
		case "metrics":
			where = fmt.Sprintf("set --metrics-host or $%s; by default --host's name with port %d", config.EnvMetricsHost, client.MetricsPort)
		}
		return term.WithCode(term.ExitUnreachable, fmt.Errorf("%w; is ts serve running there? (%s)", err, where))
	case errors.As(err, &api) && (api.Code == http.StatusNotFound), errors.Is(err, fs.ErrNotExist):
		return term.WithCode(term.ExitNotFound, err)
	case errors.As(err, &api) && api.Type == apierror.TypeForbidden:
		// a restricted API (Triton's --http-restricted-api): its message names the header
		_, rest, _ := strings.Cut(api.Message, "expecting header '")
		if name, _, ok := strings.Cut(rest, "'"); ok {
			err = fmt.Errorf("%w (send it with -H '%s: VALUE')", err, name)
		}
		return term.WithCode(term.ExitAuth, err)
	case errors.As(err, &api) && (api.Code == http.StatusUnauthorized || api.Code == http.StatusForbidden && api.Type == "" || api.Type == "InvalidKeyException"):
		return term.WithCode(term.ExitAuth, err)
	case errors.Is(err, context.Canceled):
		return term.WithCode(term.ExitError, errors.New("interrupted"))
	}
	return err
}
