package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/config"
)

// Triton's logging extension on the inference port: GET /v2/logging says what the server
// logs, POST /v2/logging changes it while the server runs (tritonclient's
// update_log_settings, ts log-level). ts logs to stderr in the format it started with, by level:
// log_verbose_level > 0 is slog's debug, then log_info, log_warning and log_error turn on
// each level from the lowest one on (turning info off logs warnings and errors, and so on).

// slogLevels are api.LogLevels' slog levels ("off": above every record's).
var slogLevels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 4}

// logSettings are the server's log settings, its logger at level.
func (s *Server) logSettings(level slog.Level) api.LogSettings {
	name := "off"
	for i, l := range slogLevels {
		if level <= l {
			name = api.LogLevels[i]
			break
		}
	}
	settings := api.LogSettingsFor(name)
	settings.LogFormat = s.logFormat
	return settings
}

// tritonLogFormat names a log format (config.LogText, config.LogJSON, "") as Triton's logging
// API does: its text format is "default".
func tritonLogFormat(format string) string {
	if format == config.LogJSON {
		return config.LogJSON
	}
	return "default"
}

func (s *Server) loggingRoutes(rt *router) {
	rt.handle("GET /v2/logging", func(w http.ResponseWriter, r *http.Request) error {
		if s.logLevel == nil {
			return apierror.BadRequest("this server's log level is fixed")
		}
		return writeJSON(w, http.StatusOK, s.logSettings(s.logLevel.Level()))
	})
	rt.handle("POST /v2/logging", s.updateLogging)
}

// updateLogging applies the settings a request gives (the others stay) and answers them all.
func (s *Server) updateLogging(w http.ResponseWriter, r *http.Request) error {
	if s.logLevel == nil {
		return apierror.BadRequest("this server's log level is fixed")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return apierror.BadRequest("cannot read the request body: %v", err)
	}
	settings := s.logSettings(s.logLevel.Level())
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&settings); err != nil && err != io.EOF {
		return apierror.BadRequest(`log settings are {"log_info": bool, "log_warning": bool, "log_error": bool, "log_verbose_level": n, "log_format": %q, "log_file": ""}: %v`, s.logFormat, err)
	}
	switch {
	case settings.LogFile != "":
		return apierror.BadRequest("log_file: ts logs to stderr only (redirect it)")
	case settings.LogFormat != s.logFormat:
		return apierror.BadRequest(`log_format: the server logs in %q (ts serve --log-format) while it runs, not %q`, s.logFormat, settings.LogFormat)
	case settings.LogVerboseLevel < 0:
		return apierror.BadRequest("log_verbose_level must be ≥ 0, got %d", settings.LogVerboseLevel)
	}
	old := s.logLevel.Level()
	s.logLevel.Set(slogLevels[slices.Index(api.LogLevels, settings.Level())])
	s.log.Info("log level changed", "from", old, "to", s.logLevel.Level())
	return writeJSON(w, http.StatusOK, s.logSettings(s.logLevel.Level()))
}
