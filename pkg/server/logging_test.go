package server

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/registry"
)

// TestLogSettings: Triton's logging extension reads and changes the server's log level
// while it runs, over HTTP and gRPC: the log then holds (or drops) what the new level says.
func TestLogSettings(t *testing.T) {
	cfg, err := config.Load(config.Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	log, _ := testenv.NewLog()
	level := &slog.LevelVar{}
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: level}))
	reg := registry.New(registry.Options{TempDir: t.TempDir(), Logger: logger})
	t.Cleanup(func() { reg.Close(context.Background()) })
	srv := New(reg, Options{Settings: cfg, Logger: logger, LogLevel: level})
	h, _ := srv.Handler(Inference)
	inference := httptest.NewServer(h)
	defer inference.Close()
	for _, e := range []exchange{
		{"read", "GET", "/v2/logging", "", nil, 200, "", `"log_info": true`},
		{"verbose", "POST", "/v2/logging", "application/json", []byte(`{"log_verbose_level": 1}`), 200, "", `"log_verbose_level": 1`},
	} {
		e.run(t, inference.URL)
	}
	logger.Debug("a debug line")
	if level.Level() != slog.LevelDebug || !strings.Contains(log.String(), "a debug line") {
		t.Errorf("level %v, log:\n%s", level.Level(), log)
	}
	for _, e := range []exchange{
		{"warnings and errors", "POST", "/v2/logging", "application/json", []byte(`{"log_verbose_level": 0, "log_info": false}`), 200, "", `"log_info": false,
  "log_warning": true`},
		{"a log file", "POST", "/v2/logging", "application/json", []byte(`{"log_file": "/tmp/x.log"}`), 400, "BadRequestException", "ts logs to stderr only"},
		{"another format", "POST", "/v2/logging", "application/json", []byte(`{"log_format": "ISO8601"}`), 400, "BadRequestException", `the server logs in \"default\" (ts serve --log-format) while it runs, not \"ISO8601\"`},
		{"an unknown setting", "POST", "/v2/logging", "application/json", []byte(`{"log_colour": true}`), 400, "BadRequestException", `unknown field \"log_colour\"`},
		{"a string for a bool", "POST", "/v2/logging", "application/json", []byte(`{"log_info": "yes"}`), 400, "BadRequestException", "log settings are"},
		{"listed", "GET", "/v2", "", nil, 200, "", `"logging"`},
	} {
		e.run(t, inference.URL)
	}
	logger.Info("an info line")
	logger.Warn("a warning line")
	if level.Level() != slog.LevelWarn || strings.Contains(log.String(), "an info line") || !strings.Contains(log.String(), "a warning line") {
		t.Errorf("level %v, log:\n%s", level.Level(), log)
	}

	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, &testServer{srv: srv}, GRPCInference))
	res, err := oip.LogSettings(context.Background(), &oippb.LogSettingsRequest{Settings: map[string]*oippb.LogSettingsRequest_SettingValue{
		"log_info": {ParameterChoice: &oippb.LogSettingsRequest_SettingValue_BoolParam{BoolParam: true}}}})
	if err != nil || !res.GetSettings()["log_info"].GetBoolParam() || res.GetSettings()["log_verbose_level"].GetUint32Param() != 0 ||
		res.GetSettings()["log_format"].GetStringParam() != "default" || level.Level() != slog.LevelInfo {
		t.Errorf("gRPC: %v %v, level %v", res, err, level.Level())
	}
	if res, err := oip.LogSettings(context.Background(), &oippb.LogSettingsRequest{}); err != nil || !res.GetSettings()["log_error"].GetBoolParam() {
		t.Errorf("gRPC read: %v %v", res, err)
	}

	// a server logging JSON says so, and takes its own format back
	jsonSrv := New(reg, Options{Settings: cfg, Logger: logger, LogLevel: level, LogFormat: config.LogJSON})
	jh, _ := jsonSrv.Handler(Inference)
	jsonInference := httptest.NewServer(jh)
	defer jsonInference.Close()
	exchange{"json: read", "GET", "/v2/logging", "", nil, 200, "", `"log_format": "json"`}.run(t, jsonInference.URL)
	exchange{"json: same format", "POST", "/v2/logging", "application/json", []byte(`{"log_format": "json"}`), 200, "", `"log_format": "json"`}.run(t, jsonInference.URL)
	exchange{"json: text", "POST", "/v2/logging", "application/json", []byte(`{"log_format": "default"}`), 400, "BadRequestException", `not \"default\"`}.run(t, jsonInference.URL)

	fixed := emptyServer(t, nil) // no level to change
	exchange{"fixed", "GET", "/v2/logging", "", nil, 400, "BadRequestException", "this server's log level is fixed"}.run(t, fixed.inference.URL)
}
