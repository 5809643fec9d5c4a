package server

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
)

// Compressed requests and answers, as Triton's HTTP server takes and gives them
// (tritonclient's request_compression_algorithm and response_compression_algorithm): a
// request body with Content-Encoding gzip or deflate (zlib, as HTTP's deflate is) is
// decompressed before it is read, within max_request_size once decompressed; an Open
// Inference Protocol answer is compressed when Accept-Encoding asks for gzip or deflate.

// limitRequest caps a request's body at max bytes (limitBody) and, for a compressed one,
// decompresses it, the cap then applying to the decompressed bytes too. An encoding other
// than gzip, deflate or identity is a 415 naming the ones taken.
func limitRequest(w http.ResponseWriter, r *http.Request, max int64) error {
	if err := limitBody(w, r, max); err != nil {
		return err
	}
	var dec io.ReadCloser
	var err error
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return nil
	case "gzip", "x-gzip":
		dec, err = gzip.NewReader(r.Body)
	case "deflate":
		dec, err = zlib.NewReader(r.Body)
	default:
		w.Header().Set("Accept-Encoding", "gzip, deflate")
		return apierror.New(http.StatusUnsupportedMediaType, apierror.TypeUnsupportedMedia, "Content-Encoding %q is not supported: send gzip, deflate or identity", enc)
	}
	if err != nil {
		return bodyError(err)
	}
	r.Body = http.MaxBytesReader(w, dec, max) // the cap again, on the decompressed bytes
	r.ContentLength = -1                      // the decompressed length is not known
	return nil
}

// acceptedEncoding is the compression an Accept-Encoding header asks for among gzip and
// deflate: the one of higher weight (gzip on a tie), or "" for none.
func acceptedEncoding(header string) string {
	best, bestQ := "", 0.0
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "deflate" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			var err error
			if q, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				continue
			}
		}
		if q > bestQ || (q == bestQ && q > 0 && name == "gzip") {
			best, bestQ = name, q
		}
	}
	if bestQ <= 0 {
		return ""
	}
	return best
}

// compressAnswer compresses an answer as the request's Accept-Encoding asks (gzip or
// deflate), or leaves it as it is.
func compressAnswer(r *http.Request, res *handler.Response) (*handler.Response, error) {
	enc := acceptedEncoding(r.Header.Get("Accept-Encoding"))
	if enc == "" {
		return res, nil
	}
	var buf bytes.Buffer
	var zw io.WriteCloser
	if enc == "gzip" {
		zw = gzip.NewWriter(&buf)
	} else {
		zw = zlib.NewWriter(&buf)
	}
	if _, err := zw.Write(res.Body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	out := *res
	out.Body = buf.Bytes()
	out.Header = res.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	out.Header.Set("Content-Encoding", enc)
	out.Header.Add("Vary", "Accept-Encoding")
	return &out, nil
}
