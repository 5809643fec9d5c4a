package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
)

// Invoke runs one node on its inputs and returns what it answered, as an input for the
// nodes it feeds (Data, and ContentType when known; its Name is set by Run).
type Invoke func(ctx context.Context, node *Node, inputs []handler.Input) (handler.Input, error)

// Output is a leaf node's answer.
type Output struct {
	Node        string
	Body        []byte
	ContentType string
}

// Run sends a request's inputs through the DAG, as TorchServe's DagExecutor does: the start
// node receives the request's inputs; a node with one parent receives the parent's answer
// as its input "body"; a node with several receives each parent's answer as an input named
// after that parent. (ts keeps the content type of each answer with it; TorchServe's nodes
// get bytes alone.) Nodes run as soon as all their parents have answered, in parallel
// where the DAG branches. Each call has the node's timeout-ms and is tried up to
// retry-attempts times more when it times out or fails on the server's side (a 4xx, the
// request's own fault, is not retried, and keeps its status); a node that still fails
// answers its 5xx, or a 500 for a timeout, as TorchServe does. The first failure ends the
// run and cancels the calls in flight. Run returns the leaves' answers in Leaves' order.
func (s *Spec) Run(ctx context.Context, inputs []handler.Input, invoke Invoke) ([]Output, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		node   string
		answer handler.Input
		err    error
	}
	answers := map[string]handler.Input{}
	waiting := map[string]int{}
	for name, n := range s.Nodes {
		waiting[name] = len(n.Parents)
	}
	done := make(chan result)
	start := func(name string, in []handler.Input) {
		go func() {
			answer, err := s.call(ctx, s.Nodes[name], in, invoke)
			select {
			case done <- result{name, answer, err}:
			case <-ctx.Done():
			}
		}()
	}
	start(s.Start, inputs)
	for running := 1; running > 0; {
		var r result
		select {
		case r = <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		running--
		if r.err != nil {
			return nil, r.err
		}
		answers[r.node] = r.answer
		for _, c := range s.Nodes[r.node].Children {
			if waiting[c]--; waiting[c] == 0 {
				start(c, s.inputsOf(c, answers))
				running++
			}
		}
	}
	var out []Output
	for _, name := range s.Leaves() {
		out = append(out, Output{Node: name, Body: answers[name].Data, ContentType: answers[name].ContentType})
	}
	return out, nil
}

// inputsOf is what a node receives once all its parents have answered.
func (s *Spec) inputsOf(name string, answers map[string]handler.Input) []handler.Input {
	parents := s.Nodes[name].Parents
	in := make([]handler.Input, 0, len(parents))
	for _, p := range parents {
		a := answers[p]
		a.Name = p
		if len(parents) == 1 {
			a.Name = "body"
		}
		in = append(in, a)
	}
	return in
}

// call invokes a node with its timeout and retries, and names the node in its error.
func (s *Spec) call(ctx context.Context, n *Node, in []handler.Input, invoke Invoke) (handler.Input, error) {
	var err error
	attempts := 0
	for attempts <= n.Settings.RetryAttempts {
		var answer handler.Input
		answer, err = s.attempt(ctx, n, in, invoke)
		attempts++
		if err == nil {
			return answer, nil
		}
		if ctx.Err() != nil || !retryable(apierror.From(err).Code) {
			break
		}
	}
	if ctx.Err() != nil { // the request was cancelled, or another node failed
		return handler.Input{}, ctx.Err()
	}
	e := apierror.From(err)
	if !retryable(e.Code) {
		return handler.Input{}, apierror.New(e.Code, e.Type, "workflow node %s: %s", n.Name, e.Message)
	}
	// the server's failure, as TorchServe answers it (a 500, also for a timeout), with its cause
	code, typ := e.Code, e.Type
	if code == http.StatusRequestTimeout {
		code, typ = http.StatusInternalServerError, apierror.TypeInternal
	}
	return handler.Input{}, apierror.New(code, typ, "workflow node %s failed after %d attempt%s: %s", n.Name, attempts, map[bool]string{true: "s"}[attempts > 1], e.Message)
}

// retryable reports whether a node's failure is the server's (a 5xx or a timeout), which
// TorchServe retries; a 4xx is the request's own fault.
func retryable(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout
}

func (s *Spec) attempt(ctx context.Context, n *Node, in []handler.Input, invoke Invoke) (handler.Input, error) {
	if n.Settings.TimeoutMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(n.Settings.TimeoutMS)*time.Millisecond)
		defer cancel()
	}
	answer, err := invoke(ctx, n, in)
	if errors.Is(err, context.DeadlineExceeded) || (err == nil && ctx.Err() != nil) {
		return handler.Input{}, apierror.New(http.StatusRequestTimeout, apierror.TypeRequestTimeout, "no answer within its timeout-ms (%d ms)", n.Settings.TimeoutMS)
	}
	return answer, err
}

// Answer is the workflow's response body and its content type, as TorchServe answers
// /wfpredict: the one leaf's answer as it is, or, with several leaves, a JSON object of each
// leaf's answer by node name (an answer that is not JSON is given as a string).
func Answer(outputs []Output) ([]byte, string, error) {
	if len(outputs) == 1 {
		ctype := outputs[0].ContentType
		if ctype == "" {
			ctype = "application/json" // TorchServe's, whatever the answer
		}
		return outputs[0].Body, ctype, nil
	}
	obj := make(map[string]any, len(outputs))
	for _, o := range outputs {
		var v any = string(o.Body)
		if json.Valid(o.Body) {
			v = json.RawMessage(o.Body)
		}
		obj[o.Node] = v
	}
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("workflow answer: %w", err)
	}
	return append(b, '\n'), "application/json", nil
}
