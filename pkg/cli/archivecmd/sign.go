package archivecmd

import (
	"fmt"
	"strings"

	"github.com/tsserve/ts/pkg/archive"
)

// keygenCmd is `tsarchive keygen`.
type keygenCmd struct {
	Prefix string `arg:"" optional:"" default:"ts-signing" placeholder:"PREFIX" help:"Where to write the key pair: PREFIX.key (private, mode 0600) and PREFIX.pub (public)."`
	Force  bool   `name:"force" short:"f" help:"Replace an existing key pair."`
	Output string `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run writes a new Ed25519 key pair.
func (c *keygenCmd) Run(g *globals) error {
	priv, pub := c.Prefix+".key", c.Prefix+".pub"
	id, err := archive.GenerateKey(priv, pub, c.Force)
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{"keyId": id, "privateKey": priv, "publicKey": pub})
	}
	_, err = fmt.Fprintf(g.stdout, "key %s\n  private  %s (keep it secret: it signs archives)\n  public   %s (give it to servers: ts serve --trusted-keys %s)\n", id, priv, pub, pub)
	return err
}

// signCmd is `tsarchive sign`.
type signCmd struct {
	Archive string `arg:"" placeholder:"FILE|DIR" help:"Archive file or no-archive folder (a model's or a workflow's)."`
	Key     string `name:"key" required:"" placeholder:"FILE" help:"Ed25519 private key (PEM, PKCS #8): tsarchive keygen's PREFIX.key, or openssl genpkey -algorithm ed25519."`
	Output  string `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run checks every file of the archive and adds the key's signature of its manifest.
func (c *signCmd) Run(g *globals) error {
	key, err := archive.LoadSigningKey(c.Key)
	if err != nil {
		return err
	}
	res, err := archive.Sign(g.ctx, c.Archive, key, archive.DefaultLimits())
	if err != nil {
		return archiveError(c.Archive, err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, res)
	}
	ids := make([]string, len(res.Signatures))
	for i, s := range res.Signatures {
		ids[i] = s.KeyID
	}
	_, err = fmt.Fprintf(g.stdout, "%s: signed by %s (signatures: %s)\n", c.Archive, res.KeyID, strings.Join(ids, ", "))
	return err
}

// loadSigningKey reads --sign-key when given (nil when not).
func loadSigningKey(path string) (*archive.SigningKey, error) {
	if path == "" {
		return nil, nil
	}
	return archive.LoadSigningKey(path)
}

// printPacked reports an archive just packed: as JSON (out, with signedBy when key signed
// it), or as its line, which ends with the key and a parenthesis.
func printPacked(g *globals, output string, key *archive.SigningKey, out map[string]any, line string) error {
	if key != nil {
		out["signedBy"] = key.ID
		line += ", signed by " + key.ID
	}
	if output == "json" {
		return printJSON(g.stdout, out)
	}
	_, err := fmt.Fprintln(g.stdout, line+")")
	return err
}

// signedBy describes an archive's signatures as read, checked against a keyring or not:
// "signed by KEY (...)", or "not signed".
func signedBy(s *archive.Signing) string {
	switch {
	case s == nil || len(s.Signatures) == 0:
		return "not signed"
	case s.TrustedKey != "":
		return "signed by " + s.TrustedKey + " (a trusted key; signature checked)"
	}
	return "signed by " + strings.Join(s.KeyIDs(), ", ") + " (not checked; tsarchive verify --key PUB checks it)"
}
