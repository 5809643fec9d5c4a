package archive

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// newKey makes a key pair in dir named name (name.key, name.pub) and loads both.
func newKey(t *testing.T, dir, name string) (*SigningKey, *Keyring) {
	t.Helper()
	priv, pub := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	id, err := GenerateKey(priv, pub, false)
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := LoadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != id || !slices.Equal(ring.IDs(), []string{id}) || len(id) != 16 {
		t.Fatalf("key ids: generated %s, private %s, public %v", id, k.ID, ring.IDs())
	}
	return k, ring
}

func TestGenerateKey(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "a.key"), filepath.Join(dir, "a.pub")
	if _, err := GenerateKey(priv, pub, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want -rw-------", st.Mode())
	}
	if st, _ := os.Stat(pub); st.Mode().Perm() != 0o644 {
		t.Errorf("public key mode %v, want -rw-r--r--", st.Mode())
	}
	before, _ := os.ReadFile(priv)
	if _, err := GenerateKey(priv, pub, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing key replaced without force: %v", err)
	}
	if after, _ := os.ReadFile(priv); string(after) != string(before) {
		t.Error("a refused keygen changed the private key")
	}
	if _, err := GenerateKey(priv, pub, true); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(priv); string(after) == string(before) {
		t.Error("keygen --force kept the old key")
	}
	assertNoTemp(t, dir)

	// a folder that does not exist yet is made, private
	nested := filepath.Join(dir, "keys", "ci")
	if _, err := GenerateKey(filepath.Join(nested, "k.key"), filepath.Join(nested, "k.pub"), false); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(nested); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o700 {
		t.Errorf("made folder: %v, want drwx------", st.Mode())
	}
}

// TestSignedPackEveryFormat: an archive packed with a key verifies against a keyring holding
// its public key, in every format, and not against another; read without a keyring, its
// signature is reported but unchecked.
func TestSignedPackEveryFormat(t *testing.T) {
	keys := t.TempDir()
	key, ring := newKey(t, keys, "release")
	_, other := newKey(t, keys, "other")
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			res, err := Pack(context.Background(), PackOptions{
				ModelName: "digits", SerializedFile: "../../samples/digits/model.onnx", Handler: "image_classifier",
				ExportPath: dir, Format: f, SignKey: key, Now: fixedTime,
			})
			if err != nil {
				t.Fatal(err)
			}
			m, err := Verify(context.Background(), res.Path, Limits{Trusted: ring})
			if err != nil {
				t.Fatalf("verify with the signer's key: %v", err)
			}
			if m.Signed.TrustedKey != key.ID {
				t.Errorf("trusted key %q, want %s", m.Signed.TrustedKey, key.ID)
			}
			if _, err := Verify(context.Background(), res.Path, Limits{Trusted: other}); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), key.ID) {
				t.Errorf("verify with another key: %v, want ErrUntrusted naming %s", err, key.ID)
			}
			m, err = Verify(context.Background(), res.Path, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Signed.KeyIDs(), []string{key.ID}) || m.Signed.TrustedKey != "" {
				t.Errorf("without a keyring: signatures %v, trusted %q", m.Signed.KeyIDs(), m.Signed.TrustedKey)
			}
			o, err := Open(context.Background(), res.Path, t.TempDir(), Limits{Trusted: ring})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if o.Manifest.Signed.TrustedKey != key.ID {
				t.Errorf("opened: trusted key %q", o.Manifest.Signed.TrustedKey)
			}
			info, err := Inspect(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if len(info.Signatures) != 1 || info.Signatures[0].KeyID != key.ID {
				t.Errorf("inspect: signatures %+v", info.Signatures)
			}
			for _, e := range info.Entries {
				if strings.HasSuffix(e.Path, SignatureSuffix) {
					t.Errorf("inspect lists the signatures file among the files: %s", e.Path)
				}
			}
		})
	}
}

// TestSignExisting: tsarchive sign adds a signature to an archive packed without one, in
// every format, keeping every file; a second key adds a second signature, and signing again
// with the first replaces its own.
func TestSignExisting(t *testing.T) {
	keys := t.TempDir()
	first, firstRing := newKey(t, keys, "first")
	second, secondRing := newKey(t, keys, "second")
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			res := packDigits(t, dir, f)
			if _, err := Verify(context.Background(), res.Path, Limits{Trusted: firstRing}); !errors.Is(err, ErrNotSigned) {
				t.Fatalf("unsigned archive: %v, want ErrNotSigned", err)
			}
			before, err := Inspect(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range []*SigningKey{first, second, first} {
				sr, err := Sign(context.Background(), res.Path, k, Limits{})
				if err != nil {
					t.Fatalf("sign %d: %v", i, err)
				}
				if sr.KeyID != k.ID || len(sr.Signatures) != min(i+1, 2) {
					t.Errorf("sign %d: key %s, %d signatures", i, sr.KeyID, len(sr.Signatures))
				}
			}
			for _, ring := range []*Keyring{firstRing, secondRing} {
				if _, err := Verify(context.Background(), res.Path, Limits{Trusted: ring}); err != nil {
					t.Errorf("verify with %v: %v", ring.IDs(), err)
				}
			}
			after, err := Inspect(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if len(after.Entries) != len(before.Entries) || after.Format != before.Format {
				t.Errorf("signing changed the files: %+v, before %+v", after.Entries, before.Entries)
			}
			if f != Folder {
				if st, _ := os.Stat(res.Path); st.Mode().Perm() != 0o644 {
					t.Errorf("mode after signing %v", st.Mode())
				}
			}
			assertNoTemp(t, dir)
			dest := filepath.Join(t.TempDir(), "out")
			if _, err := Extract(context.Background(), res.Path, dest, Limits{Trusted: secondRing}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dest, "model.onnx")); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSignatureChecks: a file changed together with its hash in the manifest (the one edit
// the hashes alone cannot catch), a manifest without hashes, a malformed signatures file and
// a signature of another archive are each refused with their own error.
func TestSignatureChecks(t *testing.T) {
	key, ring := newKey(t, t.TempDir(), "k")
	pack := func(t *testing.T) string {
		res, err := Pack(context.Background(), PackOptions{ModelName: "digits", SerializedFile: "../../samples/digits/model.onnx",
			Handler: "image_classifier", ExtraFiles: []string{"../../samples/digits/index_to_name.json"}, ExportPath: t.TempDir(), Format: Folder, SignKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return res.Path
	}
	editManifest := func(t *testing.T, dir string, edit func(m map[string]any)) {
		p := filepath.Join(dir, filepath.FromSlash(ManifestPath))
		b, _ := os.ReadFile(p)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ = json.Marshal(m)
		os.WriteFile(p, b, 0o644)
	}
	sigFile := func(dir string) string { return filepath.Join(dir, filepath.FromSlash(ManifestPath+SignatureSuffix)) }

	t.Run("file and manifest changed", func(t *testing.T) {
		dir := pack(t)
		labels := []byte(`{"0": "zero"}`)
		os.WriteFile(filepath.Join(dir, "index_to_name.json"), labels, 0o644)
		editManifest(t, dir, func(m map[string]any) {
			for _, f := range m["files"].([]any) {
				if f := f.(map[string]any); f["path"] == "index_to_name.json" {
					f["size"], f["sha256"] = len(labels), sha256hex(labels)
				}
			}
		})
		if _, err := Verify(context.Background(), dir, Limits{}); err != nil {
			t.Fatalf("the hashes alone should pass: %v", err)
		}
		if _, err := Verify(context.Background(), dir, Limits{Trusted: ring}); !errors.Is(err, ErrBadSignature) {
			t.Errorf("got %v, want ErrBadSignature", err)
		}
	})
	t.Run("no hashes", func(t *testing.T) {
		dir := pack(t)
		editManifest(t, dir, func(m map[string]any) { delete(m, "files") })
		if _, err := Verify(context.Background(), dir, Limits{Trusted: ring}); !errors.Is(err, ErrNotSigned) || !strings.Contains(err.Error(), "no file hashes") {
			t.Errorf("got %v, want ErrNotSigned for a manifest without hashes", err)
		}
		if _, err := Sign(context.Background(), dir, key, Limits{}); err == nil || !strings.Contains(err.Error(), "no file hashes") {
			t.Errorf("signing an archive without hashes: %v", err)
		}
	})
	t.Run("malformed signatures", func(t *testing.T) {
		dir := pack(t)
		os.WriteFile(sigFile(dir), []byte(`{"signatures": [{"keyId": "x"}]}`), 0o644)
		if _, err := Verify(context.Background(), dir, Limits{}); !errors.Is(err, ErrBadSignatures) {
			t.Errorf("got %v, want ErrBadSignatures", err)
		}
		if _, err := Inspect(dir); !errors.Is(err, ErrBadSignatures) {
			t.Errorf("inspect: %v, want ErrBadSignatures", err)
		}
	})
	t.Run("another archive's signature", func(t *testing.T) {
		a, b := pack(t), pack(t)
		editManifest(t, b, func(m map[string]any) { m["description"] = "changed" })
		sig, _ := os.ReadFile(sigFile(a))
		os.WriteFile(sigFile(b), sig, 0o644)
		if _, err := Verify(context.Background(), b, Limits{Trusted: ring}); !errors.Is(err, ErrBadSignature) {
			t.Errorf("got %v, want ErrBadSignature", err)
		}
	})
}

// TestSignedWorkflow: a workflow archive is signed and checked as a model archive is.
func TestSignedWorkflow(t *testing.T) {
	key, ring := newKey(t, t.TempDir(), "k")
	res := packSampleWorkflow(t, t.TempDir())
	if _, err := VerifyWorkflow(context.Background(), res.Path, Limits{Trusted: ring}); !errors.Is(err, ErrNotSigned) {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := Sign(context.Background(), res.Path, key, Limits{}); err != nil {
		t.Fatal(err)
	}
	m, err := VerifyWorkflow(context.Background(), res.Path, Limits{Trusted: ring})
	if err != nil {
		t.Fatal(err)
	}
	if m.Signed.TrustedKey != key.ID {
		t.Errorf("trusted key %q", m.Signed.TrustedKey)
	}
	if _, err := ExtractWorkflow(context.Background(), res.Path, filepath.Join(t.TempDir(), "wf"), Limits{Trusted: ring}); err != nil {
		t.Error(err)
	}
}

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	_, a := newKey(t, dir, "a")
	_, b := newKey(t, dir, "b")
	both := append(a.IDs(), b.IDs()...)
	slices.Sort(both)

	t.Run("folder", func(t *testing.T) {
		ring, err := LoadKeyring(dir) // a.pub and b.pub; the .key files are not read
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ring.IDs(), both) {
			t.Errorf("ids %v, want %v", ring.IDs(), both)
		}
	})
	t.Run("two keys in one file", func(t *testing.T) {
		pa, _ := os.ReadFile(filepath.Join(dir, "a.pub"))
		pb, _ := os.ReadFile(filepath.Join(dir, "b.pub"))
		p := filepath.Join(t.TempDir(), "trusted.pem")
		os.WriteFile(p, append(pa, pb...), 0o644)
		ring, err := LoadKeyring(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ring.IDs(), both) {
			t.Errorf("ids %v, want %v", ring.IDs(), both)
		}
	})
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	ecPrivDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	bad := t.TempDir()
	files := map[string][]byte{
		"empty.pem":  []byte("not a key\n"),
		"ecdsa.pub":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}),
		"ecdsa.key":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecPrivDER}),
		"broken.pub": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")}),
	}
	for name, b := range files {
		os.WriteFile(filepath.Join(bad, name), b, 0o644)
	}
	for _, c := range []struct{ file, want string }{
		{"empty.pem", "no PEM"},
		{"ecdsa.pub", "not an Ed25519 key"},
		{"broken.pub", "broken.pub"},
		{"missing.pub", "no such file"},
	} {
		if _, err := LoadKeyring(filepath.Join(bad, c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.file, err, c.want)
		}
	}
	if _, err := LoadKeyring(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no Ed25519 public key") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := LoadSigningKey(filepath.Join(bad, "ecdsa.key")); err == nil || !strings.Contains(err.Error(), "not an Ed25519 key") {
		t.Errorf("ecdsa signing key: %v", err)
	}
	if _, err := LoadSigningKey(filepath.Join(dir, "a.pub")); err == nil || !strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("a public key as the signing key: %v", err)
	}
}
