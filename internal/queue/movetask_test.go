package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/queue"
)

// moveTaskSQS stands in for SQS's message move task API, which kumo lacks,
// in front of a real kumo: it answers StartMessageMoveTask,
// ListMessageMoveTasks and CancelMessageMoveTask (JSON protocol, X-Amz-Target
// AmazonSQS.<Action>) and passes every other call to kumo. It models what the
// SQS API reference documents:
//   - StartMessageMoveTask{SourceArn, DestinationArn, MaxNumberOfMessagesPerSecond}
//     returns a TaskHandle and moves, in the background, the messages in the
//     source queue at the start (ApproximateNumberOfMessagesToMove is taken
//     then), body and message attributes kept, at most
//     MaxNumberOfMessagesPerSecond a second (1..500); one active task per
//     source queue (a second start is refused).
//   - ListMessageMoveTasks{SourceArn, MaxResults (default 1)} returns the
//     most recent tasks first, with Status RUNNING, COMPLETED, CANCELLING,
//     CANCELLED or FAILED, ApproximateNumberOfMessagesMoved and -ToMove.
//   - CancelMessageMoveTask{TaskHandle} stops a RUNNING task (messages moved
//     so far stay moved) and returns ApproximateNumberOfMessagesMoved.
//
// It does not model a missing DestinationArn (SQS then moves to the queues
// that sent the messages to the DLQ): redrive always names the destination.
// The moves themselves are real kumo calls (receive, send, delete).
type moveTaskSQS struct {
	t     *testing.T
	kumo  *httputil.ReverseProxy
	sqs   *sqs.Client
	urls  map[string]string // queue ARN → URL
	mu    sync.Mutex
	tasks []*moveTask // oldest first
	calls []string    // move task actions received, in order
}

type moveTask struct {
	handle, source, dest string
	rate                 int
	status               string
	moved, toMove        int64
	cancel               chan struct{}
}

func newMoveTaskSQS(t *testing.T, k *devstack.Stack) *httptest.Server {
	target, err := url.Parse(k.Kumo.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	m := &moveTaskSQS{t: t, kumo: httputil.NewSingleHostReverseProxy(target), sqs: k.Clients.SQS, urls: map[string]string{}}
	for id, arn := range k.Resources.QueueARNs {
		m.urls[arn] = k.QueueURL(id)
	}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	t.Cleanup(m.stopAll)
	return srv
}

func (m *moveTaskSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok || (action != "StartMessageMoveTask" && action != "ListMessageMoveTasks" && action != "CancelMessageMoveTask") {
		m.kumo.ServeHTTP(w, r)
		return
	}
	var in map[string]any
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &in); err != nil {
		m.fail(w, "InvalidParameterValue", err.Error())
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, action)
	switch action {
	case "StartMessageMoveTask":
		src, _ := in["SourceArn"].(string)
		dst, _ := in["DestinationArn"].(string)
		rate := 500
		if v, ok := in["MaxNumberOfMessagesPerSecond"].(float64); ok {
			rate = int(v)
		}
		if m.urls[src] == "" || m.urls[dst] == "" || rate < 1 || rate > 500 {
			m.fail(w, "InvalidParameterValue", fmt.Sprintf("source %q, destination %q, rate %d", src, dst, rate))
			return
		}
		for _, tk := range m.tasks {
			if tk.source == src && (tk.status == "RUNNING" || tk.status == "CANCELLING") {
				m.fail(w, "InvalidParameterValue", "there is already a running task for the source queue")
				return
			}
		}
		tk := &moveTask{handle: fmt.Sprintf("task-%d", len(m.tasks)+1), source: src, dest: dst, rate: rate, status: "RUNNING",
			toMove: m.depth(m.urls[src]), cancel: make(chan struct{})}
		m.tasks = append(m.tasks, tk)
		go m.run(tk)
		m.reply(w, map[string]any{"TaskHandle": tk.handle})
	case "ListMessageMoveTasks":
		src, _ := in["SourceArn"].(string)
		max := 1
		if v, ok := in["MaxResults"].(float64); ok {
			max = int(v)
		}
		var results []map[string]any
		for i := len(m.tasks) - 1; i >= 0 && len(results) < max; i-- {
			tk := m.tasks[i]
			if tk.source != src {
				continue
			}
			e := map[string]any{"TaskHandle": tk.handle, "Status": tk.status, "SourceArn": tk.source, "DestinationArn": tk.dest,
				"MaxNumberOfMessagesPerSecond": tk.rate, "ApproximateNumberOfMessagesMoved": tk.moved, "ApproximateNumberOfMessagesToMove": tk.toMove}
			results = append(results, e)
		}
		m.reply(w, map[string]any{"Results": results})
	case "CancelMessageMoveTask":
		h, _ := in["TaskHandle"].(string)
		for _, tk := range m.tasks {
			if tk.handle == h && tk.status == "RUNNING" {
				tk.status = "CANCELLING"
				close(tk.cancel)
				m.reply(w, map[string]any{"ApproximateNumberOfMessagesMoved": tk.moved})
				return
			}
		}
		m.fail(w, "ResourceNotFoundException", "no running task "+h)
	}
}

// run moves the task's messages, one at a time at its rate, with real kumo
// calls: send to the destination, then delete from the source.
func (m *moveTaskSQS) run(tk *moveTask) {
	ctx := context.Background()
	tick := time.NewTicker(time.Second / time.Duration(tk.rate))
	defer tick.Stop()
	finish := func(status string) {
		m.mu.Lock()
		defer m.mu.Unlock()
		tk.status = status
	}
	for {
		m.mu.Lock()
		done := tk.moved >= tk.toMove
		m.mu.Unlock()
		if done {
			finish("COMPLETED")
			return
		}
		select {
		case <-tk.cancel:
			finish("CANCELLED")
			return
		case <-tick.C:
		}
		out, err := m.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(m.urls[tk.source]), MaxNumberOfMessages: 1,
			WaitTimeSeconds: 1, VisibilityTimeout: 30, MessageAttributeNames: []string{"All"}})
		if err != nil || len(out.Messages) == 0 {
			finish("FAILED")
			return
		}
		msg := out.Messages[0]
		if _, err := m.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(m.urls[tk.dest]), MessageBody: msg.Body, MessageAttributes: msg.MessageAttributes}); err != nil {
			finish("FAILED")
			return
		}
		if _, err := m.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(m.urls[tk.source]), ReceiptHandle: msg.ReceiptHandle}); err != nil {
			finish("FAILED")
			return
		}
		m.mu.Lock()
		tk.moved++
		m.mu.Unlock()
	}
}

func (m *moveTaskSQS) depth(url string) int64 {
	out, err := m.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		m.t.Error(err)
		return 0
	}
	var n int64
	fmt.Sscan(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)], &n)
	return n
}

func (m *moveTaskSQS) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tk := range m.tasks {
		if tk.status == "RUNNING" {
			tk.status = "CANCELLING"
			close(tk.cancel)
		}
	}
}

func (m *moveTaskSQS) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(v)
}

func (m *moveTaskSQS) fail(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}

func (m *moveTaskSQS) status(handle string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tk := range m.tasks {
		if tk.handle == handle {
			return tk.status
		}
	}
	return ""
}

func (m *moveTaskSQS) actions() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return strings.Join(m.calls, ",")
}

// TestMoveTaskPathAsOnAWS: without --type, redrive uses StartMessageMoveTask,
// reports progress from ListMessageMoveTasks until COMPLETED, and every
// parked event ends on the events queue with its attributes.
func TestMoveTaskPathAsOnAWS(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{VisibilityTimeout: 30}})
	srv := newMoveTaskSQS(t, k)
	api := devstack.NewClients(srv.URL).SQS
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")
	var evs [][2]string
	for i := range 12 {
		evs = append(evs, [2]string{fmt.Sprintf("u%02d", i), "user.a"})
	}
	park(t, k.Clients.SQS, dlqURL, evs)

	var out bytes.Buffer
	res, err := queue.Redrive(t.Context(), api, queue.RedriveOptions{QueueURL: queueURL, DLQURL: dlqURL, Rate: 20, PollInterval: 100 * time.Millisecond, Out: &out})
	if err != nil || res.Method != "move-task" || res.Moved != 12 || res.Total != 12 || res.TaskARN == "" {
		t.Fatalf("move: %+v %v\n%s", res, err, out.String())
	}
	if !strings.Contains(out.String(), "move task started: task-1") || !strings.Contains(out.String(), "moved 12/12 (COMPLETED)") ||
		!strings.Contains(out.String(), "(RUNNING)") {
		t.Errorf("progress lines:\n%s", out.String())
	}
	if strings.Contains(out.String(), "copying messages instead") {
		t.Errorf("fell back to copying:\n%s", out.String())
	}
	got := drainUUIDs(t, k.Clients.SQS, queueURL)
	if len(got) != 12 {
		t.Fatalf("events queue holds %v, want all 12", got)
	}
	if left := drainUUIDs(t, k.Clients.SQS, dlqURL); len(left) != 0 {
		t.Fatalf("DLQ still holds %v", left)
	}
}

// TestInterruptedMoveTaskIsCancelled: ^C during a move task cancels it
// (CancelMessageMoveTask), and every event is in one queue or the other.
func TestInterruptedMoveTaskIsCancelled(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{VisibilityTimeout: 30}})
	srv := newMoveTaskSQS(t, k)
	api := devstack.NewClients(srv.URL).SQS
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")
	var evs [][2]string
	for i := range 10 {
		evs = append(evs, [2]string{fmt.Sprintf("u%02d", i), "user.a"})
	}
	park(t, k.Clients.SQS, dlqURL, evs)

	ctx, cancel := context.WithCancel(t.Context())
	var out bytes.Buffer
	pr, pw := io.Pipe()
	go func() { // interrupt at the first progress line showing a move
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			out.Write(buf[:n])
			if strings.Contains(string(buf[:n]), "moved ") && !strings.Contains(string(buf[:n]), "moved 0/") {
				cancel()
			}
			if err != nil {
				return
			}
		}
	}()
	res, err := queue.Redrive(ctx, api, queue.RedriveOptions{QueueURL: queueURL, DLQURL: dlqURL, Rate: 2, PollInterval: 200 * time.Millisecond, Out: pw})
	pw.Close()
	if err == nil || res.Moved == 0 || res.Moved >= 10 {
		t.Fatalf("move: %+v %v, want interrupted part-way", res, err)
	}
	m := srv.Config.Handler.(*moveTaskSQS)
	if !strings.HasSuffix(m.actions(), "CancelMessageMoveTask") {
		t.Fatalf("move task calls %s, want a cancel at the end", m.actions())
	}
	// The stand-in finishes the move in flight, then reports CANCELLED.
	for deadline := time.Now().Add(5 * time.Second); m.status("task-1") != "CANCELLED"; {
		if time.Now().After(deadline) {
			t.Fatalf("task status %s, want CANCELLED", m.status("task-1"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen := map[string]bool{}
	for _, u := range append(drainUUIDs(t, k.Clients.SQS, queueURL), drainUUIDs(t, k.Clients.SQS, dlqURL)...) {
		seen[u] = true
	}
	for _, ev := range evs {
		if !seen[ev[0]] {
			t.Errorf("%s is in neither queue", ev[0])
		}
	}
}
