package trace

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Get is the settings of a model (its own over the global ones), or the global ones for
// model "", as Triton's trace setting API answers them: strings, and a list for the level.
func (t *Tracer) Get(model string) map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, _ := t.effective(model)
	return map[string]any{
		keyFile: s.File, keyLevel: s.Levels, keyRate: strconv.Itoa(s.Rate), keyCount: strconv.Itoa(s.Count),
		keyLogFrequency: strconv.Itoa(s.LogFrequency), keyMode: "triton",
	}
}

// Update changes the settings of a model ("": the global ones) from a trace setting request
// (Triton's: string values, a list for the level; null clears a model's own setting, which
// then follows the global one). trace_file cannot change through the API, as in Triton.
// Nothing changes when a setting is invalid. It answers the settings now in effect.
func (t *Tracer) Update(model string, body []byte) (map[string]any, error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: the body is not a JSON object: %v", ErrBadSetting, err)
	}
	t.mu.Lock()
	sc := t.global
	if model != "" {
		if sc = t.models[model]; sc == nil {
			sc = &scope{settings: t.global.settings, set: map[string]bool{}}
		}
	}
	next := *sc
	next.settings.Levels = append([]string(nil), sc.settings.Levels...)
	next.set = map[string]bool{}
	for k, v := range sc.set {
		next.set[k] = v
	}
	for key, raw := range req {
		if string(raw) == "null" {
			if model == "" {
				t.mu.Unlock()
				return nil, fmt.Errorf("%w: %s: null clears a model's own setting; the global settings need a value", ErrBadSetting, key)
			}
			delete(next.set, key)
			continue
		}
		if err := next.apply(key, raw); err != nil {
			t.mu.Unlock()
			return nil, err
		}
		if model != "" {
			next.set[key] = true
		}
	}
	if model == "" {
		*t.global = next
	} else {
		t.models[model] = &next
	}
	t.refresh()
	t.mu.Unlock()
	return t.Get(model), nil
}

// apply sets one setting from its JSON value.
func (sc *scope) apply(key string, raw json.RawMessage) error {
	var text string
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		if err := json.Unmarshal(raw, &text); err != nil {
			return fmt.Errorf("%w: %s: want a string (or, for trace_level, a list of strings)", ErrBadSetting, key)
		}
		list = []string{text}
	} else if len(list) == 1 {
		text = list[0]
	}
	number := func(min int) (int, error) {
		if len(list) != 1 {
			return 0, fmt.Errorf("%w: %s: want one value", ErrBadSetting, key)
		}
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil || n < min {
			return 0, fmt.Errorf("%w: %s: %q is not an integer ≥ %d", ErrBadSetting, key, text, min)
		}
		return n, nil
	}
	var err error
	switch key {
	case keyLevel:
		levels, err := ParseLevels(list)
		if err != nil {
			return err
		}
		sc.settings.Levels = levels
	case keyRate:
		sc.settings.Rate, err = number(1)
	case keyCount:
		sc.settings.Count, err = number(-1)
	case keyLogFrequency:
		sc.settings.LogFrequency, err = number(0)
	case keyFile:
		if text != sc.settings.File {
			return fmt.Errorf("%w: trace file location can not be updated through network protocol (ts serve --trace-file sets it)", ErrBadSetting)
		}
	case keyMode:
		if text != "triton" {
			return fmt.Errorf("%w: trace_mode: only \"triton\" is supported", ErrBadSetting)
		}
	default:
		return fmt.Errorf("%w: unknown setting %q (trace_level, trace_rate, trace_count, log_frequency, trace_file, trace_mode)", ErrBadSetting, key)
	}
	return err
}

// ParseLevels checks trace levels: OFF alone, or TIMESTAMPS and/or TENSORS.
func ParseLevels(list []string) ([]string, error) {
	var out []string
	for _, l := range list {
		l = strings.ToUpper(strings.TrimSpace(l))
		switch l {
		case LevelOff, LevelTimestamps, LevelTensors:
			out = append(out, l)
		default:
			return nil, fmt.Errorf("%w: trace_level: %q is not OFF, TIMESTAMPS or TENSORS", ErrBadSetting, l)
		}
	}
	if len(out) == 0 || (len(out) > 1 && slices.Contains(out, LevelOff)) {
		return nil, fmt.Errorf("%w: trace_level: give OFF alone, or TIMESTAMPS and/or TENSORS", ErrBadSetting)
	}
	return out, nil
}
