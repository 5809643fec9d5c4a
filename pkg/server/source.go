package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
)

// ResolveStartupArchive finds the archive a load_models url names, as POST /models does
// (see resolveURL), except that an http(s) archive already downloaded into the model store
// (by the last start) is used again: TorchServe refuses to start such a model a second time.
// downloaded says the archive came from an http(s) url (registry.Spec.Downloaded). A bare
// model name (Triton's --load-model) not found as it is names its archive, .onnx file or
// folder in the store, as a repository load finds them.
func (s *Server) ResolveStartupArchive(ctx context.Context, raw string) (file, shown string, downloaded bool, err error) {
	file, shown, err = s.resolveURL(ctx, raw, true)
	if err != nil && errorOf(err).Code == http.StatusNotFound && !isRemote(raw) && !strings.ContainsAny(raw, `/\`) {
		if f, sh, ferr := s.resolveStoreName(ctx, raw, true); ferr == nil {
			return f, sh, false, nil
		}
	}
	return file, shown, isRemote(raw), err
}

// resolveStoreName finds the model name in the model store as Triton's repository load names
// it (archive.StoreEntries: name.mar, .tar.gz, .tgz, .tar.zst, a folder name, name.onnx), as
// resolveURL finds each; a 404 when none is there, another error of resolveURL's at once.
func (s *Server) resolveStoreName(ctx context.Context, name string, startup bool) (path, shown string, err error) {
	for _, file := range archive.StoreEntries(name) {
		path, shown, err = s.resolveURL(ctx, file, startup)
		if err == nil || errorOf(err).Code != http.StatusNotFound {
			return path, shown, err
		}
	}
	return "", "", apierror.New(http.StatusNotFound, apierror.TypeModelNotFound, "no %s.mar, .tar.gz, .tgz, .tar.zst, .onnx or folder %s in the model store", name, name)
}

// store is a folder archives are registered from: the model store, or the workflow store.
type store struct {
	dir  string
	kind string // "Model" or "Workflow", as TorchServe's messages name them
}

func (s *Server) modelStore() store    { return store{s.cfg.ModelStore, "Model"} }
func (s *Server) workflowStore() store { return store{s.cfg.WorkflowStore, "Workflow"} }

// isRemote reports whether a registration's url is http(s): an archive the server downloads
// into a store, and deletes again when that registration ends (registry.Spec.Downloaded).
func isRemote(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// notFound is TorchServe's 404 for an archive that is not where its url says.
func (st store) notFound(format string, args ...any) error {
	typ := apierror.TypeModelNotFound
	if st.kind == "Workflow" {
		typ = apierror.TypeWorkflowNotFound
	}
	return apierror.New(http.StatusNotFound, typ, format, args...)
}

// resolveURL turns POST /models' url into an archive on disk. A name in the model store
// is always allowed; anything else (a path outside it, file://, http(s)://) only when it
// matches allowed_urls — none by default, safer than TorchServe's (see its ShellTorch CVE).
// Allowed http(s) archives are downloaded into the model store with a size limit and a
// timeout. It returns the path and the name to show as modelUrl.
func (s *Server) resolveURL(ctx context.Context, raw string, reuseDownload bool) (string, string, error) {
	return s.resolveIn(ctx, s.modelStore(), raw, reuseDownload)
}

// resolveIn is resolveURL for the archives of a store (a workflow's url: the workflow store).
func (s *Server) resolveIn(ctx context.Context, st store, raw string, reuseDownload bool) (string, string, error) {
	if raw == "" {
		return "", "", st.notFound("empty url")
	}
	store := st.dir
	u, err := url.Parse(raw)
	isFileURL := err == nil && u.Scheme == "file"
	switch {
	case isRemote(raw):
		if !s.allowed(raw) {
			return "", "", notAllowed(raw)
		}
		return s.download(ctx, st, raw, u, reuseDownload)
	case isFileURL || filepath.IsAbs(raw):
		p := raw
		if isFileURL {
			p = u.Path
		}
		if store != "" && inside(store, p) {
			return p, filepath.Base(p), nil
		}
		if !s.allowed(raw) {
			return "", "", notAllowed(raw)
		}
		if _, err := os.Stat(p); err != nil {
			return "", "", st.notFound("%s not found at: %s", st.kind, raw)
		}
		return p, raw, nil
	}
	// TorchServe's checks and messages (ModelArchive.downloadModel), word for word; the code
	// is 400, as for every url resolving outside the model store (TorchServe: 404).
	if strings.Contains(raw, "..") || !filepath.IsLocal(raw) {
		return "", "", apierror.BadRequest("Relative path is not allowed in url: %s", raw)
	}
	if store == "" {
		return "", "", apierror.BadRequest("%s store has not been configured.", st.kind)
	}
	p := filepath.Join(store, raw)
	if _, err := os.Stat(p); err != nil {
		return "", "", st.notFound("%s not found in %s store: %s", st.kind, strings.ToLower(st.kind), raw)
	}
	return p, raw, nil
}

// notAllowed answers a url that allowed_urls does not let in, in TorchServe's words. The
// code is 400, not TorchServe's 404: with none allowed by default, a remote URL fails here
// where TorchServe (all allowed) fails its download with 400, which its API tests expect.
func notAllowed(raw string) error {
	return apierror.BadRequest("Given URL %s does not match any allowed URL(s)", raw)
}

// inside reports whether p resolves inside dir (after cleaning, following no links).
func inside(dir, p string) bool {
	absDir, err1 := filepath.Abs(dir)
	absP, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(absDir, absP)
	return err == nil && filepath.IsLocal(rel)
}

func (s *Server) allowed(raw string) bool {
	for _, re := range s.cfg.AllowedURLs {
		if re.MatchString(raw) {
			return true
		}
	}
	return false
}

// download fetches an allowed archive into the store, keeping its file name; a file of that
// name already there is an error, as in TorchServe, unless reuse says to use it.
func (s *Server) download(ctx context.Context, st store, raw string, u *url.URL, reuse bool) (string, string, error) {
	fail := func(err error) (string, string, error) {
		s.log.Warn("download failed", "url", raw, "err", err)
		return "", "", apierror.New(http.StatusBadRequest, apierror.TypeDownload, "Failed to download archive from: %s", raw)
	}
	name := path.Base(u.Path)
	if name == "" || name == "/" || name == "." || strings.HasPrefix(name, ".") {
		return "", "", apierror.BadRequest("url %s does not end in an archive file name", raw)
	}
	if st.dir == "" {
		return "", "", apierror.BadRequest("downloading %s needs a %s store (%s_store)", raw, strings.ToLower(st.kind), strings.ToLower(st.kind))
	}
	dst := filepath.Join(st.dir, name)
	if fi, err := os.Stat(dst); err == nil {
		if reuse && fi.Mode().IsRegular() {
			s.log.Info("using the archive already downloaded into the "+strings.ToLower(st.kind)+" store", "url", raw, "file", name)
			return dst, name, nil
		}
		return "", "", apierror.Internal("%s file already exists %s", st.kind, name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DownloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return fail(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("status %s", res.Status))
	}
	tmp, err := os.CreateTemp(st.dir, "."+name+".download-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(res.Body, s.cfg.MaxDownloadSize+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > s.cfg.MaxDownloadSize {
		err = fmt.Errorf("larger than max_download_size (%d bytes)", s.cfg.MaxDownloadSize)
	}
	if err != nil {
		return fail(err)
	}
	if err := os.Link(tmp.Name(), dst); err != nil { // fails if the name appeared meanwhile
		if errors.Is(err, os.ErrExist) {
			return "", "", apierror.Internal("%s file already exists %s", st.kind, name)
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return fail(err)
		}
	}
	return dst, name, nil
}
