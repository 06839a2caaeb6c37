// Package receiver turns Okta event hook calls from an API Gateway HTTP API
// (payload format 2.0) into SQS messages, one per event.
package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/intake"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/queue"
)

// ChallengeHeader carries Okta's one-time verification challenge.
const ChallengeHeader = "x-okta-verification-challenge"

// MaxChallengeBytes bounds the challenge we echo back.
const MaxChallengeBytes = 1024

// Config is the receiver's behaviour, read from the environment by main.
type Config struct {
	AuthHeader   string         // default "Authorization"
	MaxBodyBytes int            // default 1 MiB
	AllowedCIDRs []netip.Prefix // empty: any source
	// Metrics receives each request's figures (a *metrics.Recorder does);
	// nil records none.
	Metrics metrics.Sink
	// Reserve is kept back from the invocation's deadline: checking the
	// secret and queueing must end that long before it, so that the answer,
	// its log lines and metrics are out before Lambda stops the function.
	// Default DefaultReserve.
	Reserve time.Duration
	// Marks, when set, records the uuids of the events each delivery queued,
	// after they are queued, within MarkBudget (default DefaultMarkBudget).
	// A record that fails is logged and changes no answer: the events are
	// safe on the queue, and at worst the reconciler queues them again, which
	// the worker's ledger absorbs.
	Marks      Marker
	MarkBudget time.Duration
	// Orgs are the orgs served: each at its own hook path (orgs.List
	// FromPath), with its own secret. A request naming any other org is
	// answered 404 before any secret is read. The zero List is the one
	// default org at /okta/events.
	Orgs orgs.List
}

// DefaultReserve is the default Config.Reserve. After the queueing stops, a
// 1 MiB delivery of 55,000 events that all failed took about 100 ms to
// answer under aws-lambda-rie on 2 busy cores (naming them in 55 log lines);
// the rest is margin.
const DefaultReserve = 400 * time.Millisecond

// UUIDsPerLogLine bounds how many event uuids one "events not enqueued" line
// names (about 40 KB of uuids; a CloudWatch log event holds 256 KB).
const UUIDsPerLogLine = 1000

// Authenticator checks the presented auth header value.
type Authenticator interface {
	Check(ctx context.Context, presented string) (bool, error)
}

// OrgAuthenticator checks the presented auth header value against one org's
// secret (auth.Orgs does).
type OrgAuthenticator interface {
	Check(ctx context.Context, org, presented string) (bool, error)
}

type oneSecret struct{ a Authenticator }

func (o oneSecret) Check(ctx context.Context, _, presented string) (bool, error) {
	return o.a.Check(ctx, presented)
}

// Publisher enqueues messages.
type Publisher = intake.Publisher

// Marker marks the events the hook queued (the ledger's delivery
// marks), so the reconciler does not recover them.
type Marker = intake.Marker

// DefaultMarkBudget bounds writing the delivery marks after the events are queued.
const DefaultMarkBudget = 300 * time.Millisecond

// Handler serves the hook endpoint.
type Handler struct {
	cfg  Config
	auth OrgAuthenticator
	pub  Publisher
	log  *slog.Logger
	now  func() time.Time
}

// New returns a Handler checking every request against a's one secret.
func New(cfg Config, a Authenticator, p Publisher, log *slog.Logger) *Handler {
	return NewForOrgs(cfg, oneSecret{a}, p, log)
}

// NewForOrgs returns a Handler checking each request against the secret of
// the org its path names (cfg.Orgs), as a (auth.Orgs) does.
func NewForOrgs(cfg Config, a OrgAuthenticator, p Publisher, log *slog.Logger) *Handler {
	if cfg.AuthHeader == "" {
		cfg.AuthHeader = "Authorization"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Reserve <= 0 {
		cfg.Reserve = DefaultReserve
	}
	if cfg.MarkBudget <= 0 {
		cfg.MarkBudget = DefaultMarkBudget
	}
	return &Handler{cfg: cfg, auth: a, pub: p, log: log, now: time.Now}
}

// ParseCIDRs reads a comma-separated list such as ALLOWED_SOURCE_CIDRS.
// A bare address is taken as a single-host prefix.
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			addr, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("source CIDR %q: %w", part, err)
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("source CIDR %q: %w", part, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// outcome is what one request did, for its log line.
type outcome struct {
	status     int
	org        string // a configured org, or orgs.Unknown
	reason     string // why, for operators; never sent to the caller
	deliveryID string
	events     int
	duplicates int
	enqueued   int
	failed     int // events not enqueued
	marked     int
	uuids      []string // the delivery's event uuids, so a search by uuid finds its request
	err        error
}

// Handle is the Lambda handler. It answers before the invocation's deadline
// whatever Secrets Manager and SQS do: the secret check and the queueing get
// the time up to the deadline minus Config.Reserve, and whatever is not done
// by then is answered 503.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := h.now()
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-h.cfg.Reserve))
		defer cancel()
	}
	var resp events.APIGatewayV2HTTPResponse
	out := h.serve(work, req, &resp)
	h.logRequest(ctx, req, out, start)
	h.record(ctx, req, out)
	return resp, nil
}

// record writes the request's metrics: what Okta was answered, and how many
// of its events reached the queue.
func (h *Handler) record(ctx context.Context, req events.APIGatewayV2HTTPRequest, out outcome) {
	m := h.cfg.Metrics
	if m == nil {
		return
	}
	class := metrics.Dim{Name: metrics.DimStatusClass, Value: metrics.StatusClass(out.status)}
	org := metrics.Dim{Name: metrics.DimOrg, Value: out.org} // bounded: configured names or orgs.Unknown
	// A single-org stack pays for no per-org metric.
	byOrg := h.cfg.Orgs.Len() > 1
	if req.RequestContext.HTTP.Method == http.MethodGet {
		m.Add(metrics.Verifications, 1, class)
	} else {
		m.Add(metrics.Deliveries, 1, class)
	}
	if out.status == http.StatusUnauthorized || out.status == http.StatusForbidden {
		m.Add(metrics.AuthFailures, 1)
	}
	if refused := out.status == http.StatusUnauthorized || out.status == http.StatusForbidden || out.org == orgs.Unknown && out.status == http.StatusNotFound; byOrg && refused {
		m.Add(metrics.OrgAuthFailures, 1, org)
	}
	if out.events > 0 {
		m.Add(metrics.EventsReceived, float64(out.events))
	}
	if out.enqueued > 0 {
		m.Add(metrics.EventsEnqueued, float64(out.enqueued))
		if byOrg {
			m.Add(metrics.OrgEventsEnqueued, float64(out.enqueued), org)
		}
	}
	if out.failed > 0 {
		m.Add(metrics.EnqueueFailures, float64(out.failed))
	}
	if err := m.Flush(ctx); err != nil {
		h.log.WarnContext(ctx, "metrics not written", "requestId", req.RequestContext.RequestID, "error", err.Error())
	}
}

func (h *Handler) serve(ctx context.Context, req events.APIGatewayV2HTTPRequest, resp *events.APIGatewayV2HTTPResponse) outcome {
	out := h.serveOrg(ctx, req, resp)
	if out.org == "" {
		out.org = orgs.Unknown
	}
	return out
}

func (h *Handler) serveOrg(ctx context.Context, req events.APIGatewayV2HTTPRequest, resp *events.APIGatewayV2HTTPResponse) outcome {
	method := req.RequestContext.HTTP.Method
	if method != http.MethodGet && method != http.MethodPost {
		*resp = errorResponse(http.StatusMethodNotAllowed)
		resp.Headers["Allow"] = "GET, POST"
		return outcome{status: resp.StatusCode, reason: "method " + method}
	}
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	org, known := h.cfg.Orgs.FromPath(path)
	if len(h.cfg.AllowedCIDRs) > 0 && !h.sourceAllowed(req.RequestContext.HTTP.SourceIP) {
		*resp = errorResponse(http.StatusForbidden)
		return outcome{status: resp.StatusCode, org: org, reason: "source ip not allowed"}
	}
	if !known {
		// No secret is read for an org the stack does not serve, and the
		// path is not logged (it is the caller's input).
		*resp = errorResponse(http.StatusNotFound)
		return outcome{status: resp.StatusCode, reason: "no such org"}
	}
	presented, unique := header(req.Headers, h.cfg.AuthHeader)
	if !unique {
		*resp = errorResponse(http.StatusUnauthorized)
		return outcome{status: resp.StatusCode, org: org, reason: "auth header sent twice with different values"}
	}
	ok, err := h.auth.Check(ctx, org, presented)
	if err != nil {
		// Okta retries a 5xx, never a 4xx: a value that may be a newly
		// rotated secret must not get 401.
		reason := "secret unavailable"
		if errors.Is(err, auth.ErrUnconfirmed) {
			reason = "auth value unconfirmed"
		}
		*resp = errorResponse(http.StatusServiceUnavailable)
		return outcome{status: resp.StatusCode, org: org, reason: reason, err: err}
	}
	if !ok {
		*resp = errorResponse(http.StatusUnauthorized)
		return outcome{status: resp.StatusCode, org: org, reason: "auth header missing or wrong"}
	}
	var out outcome
	if method == http.MethodGet {
		out = h.verify(req, resp)
	} else {
		out = h.deliver(ctx, org, req, resp)
	}
	out.org = org
	return out
}

func (h *Handler) verify(req events.APIGatewayV2HTTPRequest, resp *events.APIGatewayV2HTTPResponse) outcome {
	challenge, unique := header(req.Headers, ChallengeHeader)
	switch {
	case !unique:
		*resp = errorResponse(http.StatusBadRequest, ChallengeHeader+" sent twice with different values")
		return outcome{status: resp.StatusCode, reason: "verification challenge ambiguous"}
	case challenge == "":
		*resp = errorResponse(http.StatusBadRequest, "missing "+ChallengeHeader+" header")
		return outcome{status: resp.StatusCode, reason: "verification challenge missing"}
	case len(challenge) > MaxChallengeBytes:
		*resp = errorResponse(http.StatusBadRequest, ChallengeHeader+" is longer than 1024 bytes")
		return outcome{status: resp.StatusCode, reason: "verification challenge too long"}
	}
	body, _ := json.Marshal(struct {
		Verification string `json:"verification"`
	}{challenge})
	*resp = jsonResponse(http.StatusOK, string(body))
	return outcome{status: resp.StatusCode, reason: "verified"}
}

func (h *Handler) deliver(ctx context.Context, org string, req events.APIGatewayV2HTTPRequest, resp *events.APIGatewayV2HTTPResponse) outcome {
	if ct, unique := header(req.Headers, "Content-Type"); !unique || (ct != "" && !isJSON(ct)) {
		*resp = errorResponse(http.StatusUnsupportedMediaType, "content type must be application/json")
		return outcome{status: resp.StatusCode, reason: "content type " + ct}
	}
	body, status, reason := h.readBody(req)
	if status != 0 {
		*resp = errorResponse(status, reason)
		return outcome{status: status, reason: reason}
	}
	delivery, err := okta.ParseDelivery(body)
	if err != nil {
		// The caller is authenticated by now, so say what is wrong, in our
		// words rather than the decoder's (which would quote the body).
		msg := "body is not valid JSON"
		if errors.Is(err, okta.ErrNotEventHook) || errors.Is(err, okta.ErrAmbiguous) {
			msg = err.Error()
		}
		*resp = errorResponse(http.StatusBadRequest, msg)
		return outcome{status: resp.StatusCode, reason: err.Error()}
	}
	out := outcome{deliveryID: delivery.EventID, events: len(delivery.Events)}
	evs, dups := okta.Dedupe(delivery.Events)
	out.duplicates = dups
	for _, ev := range evs {
		out.uuids = append(out.uuids, ev.UUID)
	}
	if len(evs) == 0 {
		*resp = jsonResponse(http.StatusOK, `{"accepted":0}`)
		out.status = resp.StatusCode
		return out
	}
	okta.SortByPublished(evs)

	batch := intake.Batch{
		Origin:     envelope.OriginHook,
		HookURL:    delivery.HookURL,
		DeliveryID: delivery.EventID,
		Org:        h.stampedOrg(org),
		ReceivedAt: h.now(),
		Events:     evs,
	}
	res := intake.Queue(ctx, h.pub, batch)
	out.enqueued = res.Sent
	out.failed = len(res.Failed)
	h.mark(ctx, req, batch, res, &out)
	if len(res.Failed) == 0 {
		*resp = jsonResponse(http.StatusOK, `{"accepted":`+strconv.Itoa(res.Sent)+`}`)
		out.status = resp.StatusCode
		return out
	}

	// Not everything is on the queue. Name every event left behind, then ask
	// Okta to send the delivery again: duplicates are fine, loss is not.
	permanent := h.logNotEnqueued(ctx, req, delivery.EventID, evs, res.Failed)
	status = http.StatusServiceUnavailable
	out.reason = fmt.Sprintf("%d of %d events not enqueued", len(res.Failed), len(evs))
	if permanent {
		// Resending cannot help (too large, or refused as our fault); 500
		// tells operators it is not transient.
		status = http.StatusInternalServerError
		out.reason += " (an event SQS cannot take: see the events not enqueued lines)"
	}
	*resp = errorResponse(status)
	out.status = status
	return out
}

// stampedOrg is the org a delivery's events carry: the org of its hook URL
// on a stack of several orgs, none ("", the stack's one org) on a stack of
// one, whose messages stay as they were before orgs.
func (h *Handler) stampedOrg(org string) string {
	if h.cfg.Orgs.Len() > 1 {
		return org
	}
	return ""
}

// mark writes the delivery marks of the events now on the queue.
func (h *Handler) mark(ctx context.Context, req events.APIGatewayV2HTTPRequest, batch intake.Batch, res queue.Result, out *outcome) {
	if h.cfg.Marks == nil || res.Sent == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.MarkBudget)
	defer cancel()
	n, err := intake.Mark(ctx, h.cfg.Marks, batch, res)
	if err != nil {
		h.log.WarnContext(ctx, "delivery not recorded; the reconciler may queue these events again (the ledger absorbs it)",
			"requestId", req.RequestContext.RequestID, "events", len(intake.Queued(batch, res)), "error", err.Error())
		return
	}
	out.marked = n
}

// Causes of "events not enqueued", one per line.
const (
	causeTooLarge = "too large for SQS"
	causeRejected = "rejected by SQS"
	causeNotSent  = "not queued in time"
)

// logNotEnqueued names every event left behind in a bounded number of lines:
// grouped by cause, UUIDsPerLogLine uuids a line, each with the first error
// of its group. Logging one line per event could outlast the invocation
// (a 1 MiB delivery can hold tens of thousands of events). It reports
// whether any failure is permanent.
func (h *Handler) logNotEnqueued(ctx context.Context, req events.APIGatewayV2HTTPRequest, deliveryID string, evs []okta.Event, failed map[int]error) bool {
	byCause := map[string][]int{}
	for i, err := range failed {
		cause := causeNotSent
		switch {
		case errors.Is(err, queue.ErrTooLarge):
			cause = causeTooLarge
		case errors.Is(err, queue.ErrRejected):
			cause = causeRejected
		}
		byCause[cause] = append(byCause[cause], i)
	}
	for _, cause := range []string{causeTooLarge, causeRejected, causeNotSent} {
		idx := byCause[cause]
		slices.Sort(idx)
		for part := 0; len(idx) > 0; part++ {
			chunk := idx[:min(len(idx), UUIDsPerLogLine)]
			idx = idx[len(chunk):]
			var uuids strings.Builder
			for j, i := range chunk {
				if j > 0 {
					uuids.WriteByte(' ')
				}
				if evs[i].UUID == "" {
					uuids.WriteString("(no-uuid)")
					continue
				}
				uuids.WriteString(evs[i].UUID)
			}
			h.log.ErrorContext(ctx, "events not enqueued",
				"requestId", req.RequestContext.RequestID,
				"deliveryId", deliveryID,
				"cause", cause,
				"count", len(chunk),
				"part", part+1,
				"eventUuids", uuids.String(),
				"error", failed[chunk[0]].Error())
		}
	}
	return len(byCause[causeTooLarge])+len(byCause[causeRejected]) > 0
}

// readBody decodes the body and enforces MaxBodyBytes. It returns a non-zero
// status when the request must be refused.
func (h *Handler) readBody(req events.APIGatewayV2HTTPRequest) ([]byte, int, string) {
	if !req.IsBase64Encoded {
		if len(req.Body) > h.cfg.MaxBodyBytes {
			return nil, http.StatusRequestEntityTooLarge, "body over " + strconv.Itoa(h.cfg.MaxBodyBytes) + " bytes"
		}
		return []byte(req.Body), 0, ""
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > h.cfg.MaxBodyBytes+2 {
		return nil, http.StatusRequestEntityTooLarge, "body over " + strconv.Itoa(h.cfg.MaxBodyBytes) + " bytes"
	}
	body, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, http.StatusBadRequest, "body is not valid base64"
	}
	if len(body) > h.cfg.MaxBodyBytes {
		return nil, http.StatusRequestEntityTooLarge, "body over " + strconv.Itoa(h.cfg.MaxBodyBytes) + " bytes"
	}
	return body, 0, ""
}

func (h *Handler) sourceAllowed(ip string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range h.cfg.AllowedCIDRs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (h *Handler) logRequest(ctx context.Context, req events.APIGatewayV2HTTPRequest, out outcome, start time.Time) {
	attrs := []any{
		"requestId", req.RequestContext.RequestID,
		"method", req.RequestContext.HTTP.Method,
		"sourceIp", req.RequestContext.HTTP.SourceIP,
		"org", out.org,
		"status", out.status,
		"durationMs", float64(h.now().Sub(start).Microseconds()) / 1000,
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, "awsRequestId", lc.AwsRequestID)
	}
	if out.deliveryID != "" {
		attrs = append(attrs, "deliveryId", out.deliveryID)
	}
	if req.RequestContext.HTTP.Method == http.MethodPost {
		attrs = append(attrs, "events", out.events, "duplicates", out.duplicates, "enqueued", out.enqueued)
		if h.cfg.Marks != nil {
			attrs = append(attrs, "recorded", out.marked) // log field name kept: events marked
		}
		if len(out.uuids) > 0 {
			attrs = append(attrs, "eventUuids", out.uuids)
		}
	}
	if out.reason != "" {
		attrs = append(attrs, "reason", out.reason)
	}
	level := slog.LevelInfo
	switch {
	case out.status >= 500:
		level = slog.LevelError
	case out.status >= 400:
		level = slog.LevelWarn
	}
	if out.err != nil {
		attrs = append(attrs, "error", out.err.Error())
	}
	h.log.Log(ctx, level, "okta hook request", attrs...)
}

// header looks a header up by name in any case: API Gateway lower-cases
// names, sam local keeps them as sent. unique is false when keys differing
// only in case carry different values: which one Okta (or a proxy) meant
// cannot be told, and map order would pick one at random.
func header(headers map[string]string, name string) (value string, unique bool) {
	found := false
	for k, v := range headers {
		if !strings.EqualFold(k, name) {
			continue
		}
		if found && v != value {
			return "", false
		}
		value, found = v, true
	}
	return value, true
}

func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

func jsonResponse(status int, body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       body,
	}
}

// errorResponse answers with the status text and, for callers that passed
// authentication, a fixed message. It never echoes the request.
func errorResponse(status int, message ...string) events.APIGatewayV2HTTPResponse {
	body := map[string]string{"error": strings.ToLower(http.StatusText(status))}
	if len(message) > 0 {
		body["message"] = message[0]
	}
	enc, _ := json.Marshal(body)
	return jsonResponse(status, string(enc))
}
