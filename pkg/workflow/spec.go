// Package workflow reads TorchServe's workflow specifications (the YAML in a .war: models
// with their settings, and a DAG of model and function nodes) and runs a request through
// the DAG. It knows nothing of HTTP or of how a node runs: the server registers the nodes
// and hands Run a function that invokes one.
package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tsserve/ts/pkg/archive"
)

// Settings are a workflow model's settings, with TorchServe's names in the spec
// (min-workers, max-workers, batch-size, max-batch-delay, retry-attempts, timeout-ms).
type Settings struct {
	MinWorkers    int
	MaxWorkers    int
	BatchSize     int
	MaxBatchDelay int // ms
	RetryAttempts int
	TimeoutMS     int
}

// defaults are TorchServe's (WorkFlow.java).
var defaults = Settings{MinWorkers: 1, MaxWorkers: 1, BatchSize: 1, MaxBatchDelay: 50, RetryAttempts: 1, TimeoutMS: 10000}

// functionSettings are a function node's: one worker, no batching (TorchServe's), with the
// workflow's retries and timeout.
func functionSettings(global Settings) Settings {
	return Settings{MinWorkers: 1, MaxWorkers: 1, BatchSize: 1, MaxBatchDelay: 0, RetryAttempts: global.RetryAttempts, TimeoutMS: global.TimeoutMS}
}

// Node is one node of the DAG: a model (URL names its archive) or a function of the
// workflow's handler file (URL empty).
type Node struct {
	Name     string
	URL      string
	Settings Settings
	// Parents and Children are the nodes this one reads from and feeds, in the spec's order.
	Parents  []string
	Children []string
}

// IsFunction reports whether the node is a function of the handler file.
func (n *Node) IsFunction() bool { return n.URL == "" }

// Spec is a parsed, checked workflow specification.
type Spec struct {
	// Global are the models section's global settings (what describe shows).
	Global Settings
	// Nodes by name; Order lists them so that every node comes after its parents.
	Nodes map[string]*Node
	Order []string
	// Start is the one node that receives the request.
	Start string
	// DAG is the dag section as TorchServe's describe shows it: {a=[b, c], b=[d]}.
	DAG string
}

// ModelName is the name a node's model is registered under: TorchServe's
// "<workflow>__<node>".
func ModelName(workflow, node string) string { return workflow + "__" + node }

// ParseSpec reads a workflow specification, checking what TorchServe checks (one start
// node, no loop) and more: settings are whole numbers, a model has a url, node names can
// name models, the DAG names at least one node.
func ParseSpec(b []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("the workflow specification is not valid YAML: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the workflow specification must be a YAML mapping with models and dag")
	}
	top := doc.Content[0]
	models, dag := lookup(top, "models"), lookup(top, "dag")
	if dag == nil || dag.Kind != yaml.MappingNode || len(dag.Content) == 0 {
		return nil, errors.New("the workflow specification has no dag: list each node with the nodes it feeds (dag: {pre: [m1], m1: [post]})")
	}
	s := &Spec{Global: defaults, Nodes: map[string]*Node{}}
	urls := map[string]string{}
	perModel := map[string]*yaml.Node{}
	if models != nil {
		if models.Kind != yaml.MappingNode {
			return nil, errors.New("models: must be a mapping of settings and models")
		}
		for i := 0; i+1 < len(models.Content); i += 2 {
			key, val := models.Content[i].Value, models.Content[i+1]
			if set, ok := settingField(&s.Global, key); ok {
				if err := setInt(set, "models."+key, val); err != nil {
					return nil, err
				}
				continue
			}
			if val.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("models.%s: a model is a mapping with its url (and settings); unknown setting otherwise (%s)", key, strings.Join(settingNames, ", "))
			}
			url := lookup(val, "url")
			if url == nil || strings.TrimSpace(url.Value) == "" {
				return nil, fmt.Errorf("models.%s has no url: name its model archive (url: %s.mar)", key, key)
			}
			urls[key] = strings.TrimSpace(url.Value)
			perModel[key] = val
		}
	}
	node := func(name string) (*Node, error) {
		if n := s.Nodes[name]; n != nil {
			return n, nil
		}
		if err := archive.ValidModelName(name); err != nil {
			return nil, fmt.Errorf("dag: node %q: %w", name, err)
		}
		n := &Node{Name: name, URL: urls[name], Settings: functionSettings(s.Global)}
		if n.URL != "" {
			n.Settings = s.Global
			for i := 0; i+1 < len(perModel[name].Content); i += 2 {
				key := perModel[name].Content[i].Value
				if set, ok := settingField(&n.Settings, key); ok {
					if err := setInt(set, "models."+name+"."+key, perModel[name].Content[i+1]); err != nil {
						return nil, err
					}
				} else if key != "url" {
					return nil, fmt.Errorf("models.%s.%s: unknown setting (url, %s)", name, key, strings.Join(settingNames, ", "))
				}
			}
		}
		s.Nodes[name] = n
		return n, nil
	}
	var text []string
	for i := 0; i+1 < len(dag.Content); i += 2 {
		from, err := node(dag.Content[i].Value)
		if err != nil {
			return nil, err
		}
		val := dag.Content[i+1]
		var to []string
		switch val.Kind {
		case yaml.SequenceNode:
			for _, c := range val.Content {
				if c.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("dag.%s: list the names of the nodes it feeds", from.Name)
				}
				if name := strings.TrimSpace(c.Value); name != "" && c.Tag != "!!null" {
					to = append(to, name)
				}
			}
		case yaml.ScalarNode:
			if val.Tag != "!!null" && strings.TrimSpace(val.Value) != "" {
				to = append(to, strings.TrimSpace(val.Value))
			}
		default:
			return nil, fmt.Errorf("dag.%s: list the names of the nodes it feeds", from.Name)
		}
		text = append(text, from.Name+"=["+strings.Join(to, ", ")+"]")
		for _, name := range to {
			if name == from.Name {
				return nil, fmt.Errorf("dag: node %s feeds itself", name)
			}
			child, err := node(name)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(from.Children, name) {
				from.Children = append(from.Children, name)
				child.Parents = append(child.Parents, from.Name)
			}
		}
	}
	s.DAG = "{" + strings.Join(text, ", ") + "}"
	for name := range urls {
		if s.Nodes[name] == nil {
			return nil, fmt.Errorf("models.%s is not in the dag: add it there, or remove it", name)
		}
	}
	return s, s.order()
}

// order checks that the DAG has one start node and no loop, and sets Start and Order
// (Kahn's algorithm, ties in the order the nodes first appear).
func (s *Spec) order() error {
	names := make([]string, 0, len(s.Nodes))
	for name := range s.Nodes {
		names = append(names, name)
	}
	slices.Sort(names)
	var starts []string
	indegree := map[string]int{}
	for _, name := range names {
		indegree[name] = len(s.Nodes[name].Parents)
		if indegree[name] == 0 {
			starts = append(starts, name)
		}
	}
	if len(starts) != 1 {
		return fmt.Errorf("dag: a workflow needs exactly one start node (one that no node feeds), it has %d: %s", len(starts), strings.Join(starts, ", "))
	}
	s.Start = starts[0]
	queue := []string{s.Start}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		s.Order = append(s.Order, name)
		for _, c := range s.Nodes[name].Children {
			if indegree[c]--; indegree[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if len(s.Order) != len(s.Nodes) {
		var loop []string
		for _, name := range names {
			if indegree[name] > 0 {
				loop = append(loop, name)
			}
		}
		return fmt.Errorf("dag: not acyclic: %s feed each other in a loop", strings.Join(loop, ", "))
	}
	return nil
}

// Leaves are the nodes that feed no other, in Order's order: their outputs are the answer.
func (s *Spec) Leaves() []string {
	var out []string
	for _, name := range s.Order {
		if len(s.Nodes[name].Children) == 0 {
			out = append(out, name)
		}
	}
	return out
}

// Functions are the function nodes, in Order's order.
func (s *Spec) Functions() []string {
	var out []string
	for _, name := range s.Order {
		if s.Nodes[name].IsFunction() {
			out = append(out, name)
		}
	}
	return out
}

var settingNames = []string{"min-workers", "max-workers", "batch-size", "max-batch-delay", "retry-attempts", "timeout-ms"}

func settingField(s *Settings, key string) (*int, bool) {
	switch key {
	case "min-workers":
		return &s.MinWorkers, true
	case "max-workers":
		return &s.MaxWorkers, true
	case "batch-size":
		return &s.BatchSize, true
	case "max-batch-delay":
		return &s.MaxBatchDelay, true
	case "retry-attempts":
		return &s.RetryAttempts, true
	case "timeout-ms":
		return &s.TimeoutMS, true
	}
	return nil, false
}

func setInt(dst *int, key string, val *yaml.Node) error {
	n, err := strconv.Atoi(strings.TrimSpace(val.Value))
	if err != nil || val.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s: %q is not a whole number", key, val.Value)
	}
	if n < 0 || (n == 0 && (key == "batch-size" || strings.HasSuffix(key, ".batch-size"))) {
		return fmt.Errorf("%s: %d is out of range", key, n)
	}
	*dst = n
	return nil
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
