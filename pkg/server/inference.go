package server

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
)

func (s *Server) inferenceRoutes() http.Handler {
	rt := s.newRouter("inference")
	rt.handle("GET /ping", s.ping)
	// TorchServe runs inference for any method but OPTIONS (curl -T sends PUT).
	rt.handle("/predictions/{model}", s.predict)
	rt.handle("/predictions/{model}/{version}", s.predict)
	return rt
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "Healthy"})
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodOptions {
		return apierror.MethodNotAllowed()
	}
	v, err := s.reg.Get(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		return err
	}
	req, err := s.readRequest(w, r)
	if err != nil {
		return err
	}
	res, err := v.Infer(r.Context(), req)
	if err != nil {
		return err
	}
	if res.ContentType != "" {
		w.Header().Set("Content-Type", res.ContentType)
	}
	w.Header().Set("x-ts-model-version", v.Version)
	status := res.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, err = w.Write(res.Body)
	return err
}

// readRequest turns the HTTP request into handler inputs: each multipart or form field is
// an input with its own name; any other body is one input named "body".
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request) (*handler.Request, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxRequestSize)
	req := &handler.Request{ID: w.Header().Get("x-request-id"), Header: r.Header}
	ctype := r.Header.Get("Content-Type")
	media, params, _ := mime.ParseMediaType(ctype)
	switch {
	case media == "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, bodyError(err)
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, bodyError(err)
			}
			req.Inputs = append(req.Inputs, handler.Input{Name: part.FormName(), ContentType: part.Header.Get("Content-Type"), Data: data})
		}
	case media == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, bodyError(err)
		}
		for name, values := range r.PostForm {
			for _, v := range values {
				req.Inputs = append(req.Inputs, handler.Input{Name: name, Data: []byte(v)})
			}
		}
	default:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyError(err)
		}
		req.Inputs = append(req.Inputs, handler.Input{Name: "body", ContentType: ctype, Data: data})
	}
	return req, nil
}

func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return apierror.BadRequest("cannot read the request body: %s", strings.TrimSpace(err.Error()))
}
