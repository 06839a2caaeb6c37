package standin

// The Event Hooks API of the stand-in org, as Okta's API reference
// (Event Hooks management API) documents it, with the bodies of Okta's
// published OpenAPI spec (release 2026.06.3; the field lists are in
// openapi.go and every body is checked against them):
//
//   - GET /api/v1/eventHooks lists the hooks; POST creates one, answering it
//     ACTIVE and UNVERIFIED; GET/PUT/DELETE /api/v1/eventHooks/{id} read,
//     replace and delete one (Okta deletes only an INACTIVE hook: 400
//     E0000001 otherwise); POST .../lifecycle/activate and .../deactivate
//     set the status; an unknown id is 404 E0000007.
//   - A hook is stored with what Okta stores: name, description (nullable),
//     events.items and events.filter (an event hook filter, kept as sent and
//     returned; null when there is none), channel.config.uri, its extra
//     headers and its authScheme. Answers carry the read-only fields id,
//     status, verificationStatus, created, createdBy, lastUpdated,
//     channel.config.method and _links, as Okta's examples show them.
//   - The hook's authScheme value is write-only: no answer carries it. A PUT
//     whose authScheme has no value keeps the stored one.
//   - PUT replaces every writable field (a field left out is cleared, as a
//     PUT does) and, because it carries channel (Okta requires channel in
//     every PUT), makes the hook UNVERIFIED: Okta's reference says
//     "Updating the channel property requires you to verify the hook
//     again". Okta delivers nothing to an UNVERIFIED hook (Deliver refuses).
//   - Read-only fields in a request body (id, status, verificationStatus,
//     created, createdBy, lastUpdated, method, _links) are ignored, as the
//     spec's readOnly means (Okta's generated SDK models, such as
//     okta-sdk-dotnet's EventHook, send status, verificationStatus and
//     createdBy back); the stand-in records them, with any field the spec
//     does not know, for tests (HookRequestProblems).
//   - POST .../lifecycle/verify sends the one-time verification request:
//     a GET to the hook's URI carrying x-okta-verification-challenge, the
//     auth header and the extra headers, with a 3 s timeout, and one retry
//     after a timeout or an error answer. An answer of 200 with
//     {"verification": <challenge>} makes the hook VERIFIED; anything else
//     is 400 E0000001 with the reason in errorCauses, and the hook stays
//     UNVERIFIED. Okta follows no redirect.
//   - Validation (400 E0000001): a name, events.type EVENT_TYPE with 1 to
//     300 items, channel HTTP 1.0.0 with an https URI (this stand-in also
//     takes http on a loopback or *.localhost host, which resolve to
//     127.0.0.1 here as curl resolves them), authScheme type HEADER, headers
//     with a key, at most 25 hooks per org.
//   - Credentials: an API token, or an access token with scope
//     okta.eventHooks.manage (otherwise 403 E0000006, insufficient_scope);
//     a read-only admin's API token gets 403 E0000006.
//   - Rate limits: X-Rate-Limit-* headers; FailHooks429 answers chosen
//     requests 429 E0000047 (FailHooks: any other status, as E0000009).
//
// Not modelled: the okta.eventHooks.read scope (manage is asked for every
// request), filters' Expression Language (a filter is stored, not
// evaluated), and delivery itself beyond Deliver.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"net/url"
)

// VerifyTimeout is how long Okta waits for the verification answer.
const VerifyTimeout = 3 * time.Second

// Hook is an event hook as the stand-in stores it, with its secret.
type Hook struct {
	ID                 string
	Name               string
	Description        *string
	Status             string
	VerificationStatus string
	Types              []string
	// Filter is events.filter as it was sent (nil: none, answered null).
	Filter             json.RawMessage
	URI                string
	Headers            []Header // channel.config.headers
	AuthKey, AuthValue string
	CreatedBy          string
	Created, Updated   time.Time
}

// Header is an extra header Okta sends with each request to the hook.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// HookRequest is a request to /api/v1/eventHooks as the stand-in got it.
type HookRequest struct {
	Method, Path string
	Body         []byte
}

type hooks struct {
	mu    sync.Mutex
	order []string
	byID  map[string]*Hook
	calls int
	fail  map[int]int // request number -> status to answer
	// verifies counts verification requests sent, by hook id.
	verifies map[string]int
	http     *http.Client
	after    func(r *http.Request)
	log      []HookRequest
	problems []string // request bodies against the OpenAPI spec
}

func newHooks() *hooks {
	return &hooks{byID: map[string]*Hook{}, fail: map[int]int{}, verifies: map[string]int{},
		http: &http.Client{Timeout: VerifyTimeout, Transport: &http.Transport{DialContext: dialLocalhost},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// dialLocalhost resolves *.localhost to 127.0.0.1, as curl does (RFC 6761),
// so the stand-in reaches the local stack's API host by name.
func dialLocalhost(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && strings.HasSuffix(host, ".localhost") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return (&net.Dialer{Timeout: VerifyTimeout}).DialContext(ctx, network, addr)
}

// FailHooks429 answers the n-th request to /api/v1/eventHooks (1-based,
// counting all so far) with 429 E0000047.
func (o *Org) FailHooks429(n int) { o.FailHooks(n, http.StatusTooManyRequests) }

// FailHooks answers the n-th request to /api/v1/eventHooks with status:
// 429 E0000047, or any other as Okta's internal error E0000009, having
// done nothing.
func (o *Org) FailHooks(n, status int) {
	o.hooks.mu.Lock()
	o.hooks.fail[n] = status
	o.hooks.mu.Unlock()
}

// AfterHooksRequest calls f after the stand-in has served each request to
// /api/v1/eventHooks and before the client gets the answer, so a test can
// act while a command waits between its steps.
func (o *Org) AfterHooksRequest(f func(r *http.Request)) {
	o.hooks.mu.Lock()
	o.hooks.after = f
	o.hooks.mu.Unlock()
}

// HookRequestLog returns every request to /api/v1/eventHooks so far, with
// its body, in order.
func (o *Org) HookRequestLog() []HookRequest {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	return append([]HookRequest(nil), o.hooks.log...)
}

// HookRequestProblems returns what the request bodies sent to
// /api/v1/eventHooks had that Okta's OpenAPI spec does not allow in a
// request (a read-only field, a field the spec does not know, a wrong
// type), each as "METHOD path: problem". Okta ignores such fields; a test
// asserts that a client sends none.
func (o *Org) HookRequestProblems() []string {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	return append([]string(nil), o.hooks.problems...)
}

// EditHook changes hook id in place, as an admin does in the Admin Console
// (adding a filter, a header or a description), without going through the
// API: nothing else about the hook changes.
func (o *Org) EditHook(id string, f func(h *Hook)) {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	if h, ok := o.hooks.byID[id]; ok {
		f(h)
	}
}

// HooksRequests is the number of requests to /api/v1/eventHooks so far.
func (o *Org) HooksRequests() int { o.hooks.mu.Lock(); defer o.hooks.mu.Unlock(); return o.hooks.calls }

// Hooks returns copies of the stored hooks, secrets included, in creation
// order.
func (o *Org) Hooks() []Hook {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	var out []Hook
	for _, id := range o.hooks.order {
		h := *o.hooks.byID[id]
		h.Types = append([]string(nil), h.Types...)
		h.Headers = append([]Header(nil), h.Headers...)
		out = append(out, h)
	}
	return out
}

// Verifications is how many verification requests hook id was sent,
// retries included.
func (o *Org) Verifications(id string) int {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	return o.hooks.verifies[id]
}

// ErrNotDelivering means Okta sends nothing to the hook: it is not an
// ACTIVE, VERIFIED hook (or there is no such hook).
var ErrNotDelivering = errors.New("standin: not an ACTIVE, VERIFIED hook: Okta delivers nothing to it")

// Deliver sends body to hook id's URI as Okta delivers events: a POST with
// the hook's auth header. Okta delivers only for an ACTIVE, VERIFIED hook.
// It returns the endpoint's status.
func (o *Org) Deliver(ctx context.Context, id string, body []byte) (int, error) {
	o.hooks.mu.Lock()
	h, ok := o.hooks.byID[id]
	var hook Hook
	if ok {
		hook = *h
	}
	o.hooks.mu.Unlock()
	if !ok || hook.Status != "ACTIVE" || hook.VerificationStatus != "VERIFIED" {
		return 0, fmt.Errorf("%w: hook %s", ErrNotDelivering, id)
	}
	resp, err := o.endpoint(hook).Deliver(ctx, body)
	if err != nil {
		return 0, err
	}
	return resp.Status, nil
}

// endpoint is hook h as Okta calls it.
func (o *Org) endpoint(h Hook) *Endpoint {
	ep := &Endpoint{URL: h.URI, Headers: h.Headers, HTTP: o.hooks.http}
	if h.AuthKey != "" {
		ep.AuthHeader, ep.Secret = h.AuthKey, h.AuthValue
	}
	return ep
}

func (o *Org) routeHooks(mux *http.ServeMux) {
	wrap := func(f func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
			o.hooks.mu.Lock()
			o.hooks.calls++
			n := o.hooks.calls
			fail, after := o.hooks.fail[n], o.hooks.after
			o.hooks.log = append(o.hooks.log, HookRequest{Method: r.Method, Path: r.URL.Path, Body: body})
			if r.Method == http.MethodPost && r.URL.Path == "/api/v1/eventHooks" || r.Method == http.MethodPut {
				for _, p := range CheckEventHook(body, Request) {
					o.hooks.problems = append(o.hooks.problems, r.Method+" "+r.URL.Path+": "+p)
				}
			}
			o.hooks.mu.Unlock()
			if after != nil {
				defer after(r)
			}
			w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
			w.Header().Set("X-Rate-Limit-Limit", "100")
			w.Header().Set("X-Rate-Limit-Remaining", "99")
			w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
			o.mu.Lock()
			ok := o.authorizedHooks(w, r) // okta_side.go: GET also takes okta.eventHooks.read
			o.mu.Unlock()
			if !ok {
				return
			}
			if fail != 0 && fail != http.StatusTooManyRequests {
				writeError(w, fail, "E0000009", "Internal Server Error")
				return
			}
			if fail != 0 {
				w.Header().Set("X-Rate-Limit-Remaining", "0")
				w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
				writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
				return
			}
			f(w, r)
		}
	}
	mux.HandleFunc("GET /api/v1/eventHooks", wrap(o.listHooks))
	mux.HandleFunc("POST /api/v1/eventHooks", wrap(o.createHook))
	mux.HandleFunc("GET /api/v1/eventHooks/{id}", wrap(o.withHook(func(w http.ResponseWriter, _ *http.Request, h *Hook) { o.writeHook(w, h) })))
	mux.HandleFunc("PUT /api/v1/eventHooks/{id}", wrap(o.withHook(o.replaceHook)))
	mux.HandleFunc("DELETE /api/v1/eventHooks/{id}", wrap(o.withHook(o.deleteHook)))
	mux.HandleFunc("POST /api/v1/eventHooks/{id}/lifecycle/activate", wrap(o.withHook(o.setStatus("ACTIVE"))))
	mux.HandleFunc("POST /api/v1/eventHooks/{id}/lifecycle/deactivate", wrap(o.withHook(o.setStatus("INACTIVE"))))
	mux.HandleFunc("POST /api/v1/eventHooks/{id}/lifecycle/verify", wrap(o.verifyHook))
}

// hookDoc is the writable part of the EventHook JSON document: what the
// stand-in reads from a request. Read-only fields are not read (ignored).
type hookDoc struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Events      struct {
		Type   string          `json:"type"`
		Items  []string        `json:"items"`
		Filter json.RawMessage `json:"filter"`
	} `json:"events"`
	Channel struct {
		Type    string `json:"type"`
		Version string `json:"version"`
		Config  struct {
			URI        string   `json:"uri"`
			Headers    []Header `json:"headers"`
			AuthScheme *struct {
				Type  string `json:"type"`
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"authScheme"`
		} `json:"config"`
	} `json:"channel"`
}

// hookOut is the EventHook JSON document Okta answers with (see
// RetrieveAnEventHook in the spec's examples).
type hookOut struct {
	ID                 string  `json:"id"`
	Status             string  `json:"status"`
	VerificationStatus string  `json:"verificationStatus"`
	Name               string  `json:"name"`
	Description        *string `json:"description"`
	Created            string  `json:"created"`
	CreatedBy          string  `json:"createdBy"`
	LastUpdated        string  `json:"lastUpdated"`
	Events             struct {
		Type   string          `json:"type"`
		Items  []string        `json:"items"`
		Filter json.RawMessage `json:"filter"`
	} `json:"events"`
	Channel struct {
		Type    string `json:"type"`
		Version string `json:"version"`
		Config  struct {
			URI        string   `json:"uri"`
			Headers    []Header `json:"headers,omitempty"`
			Method     string   `json:"method"`
			AuthScheme *struct {
				Type string `json:"type"`
				Key  string `json:"key"`
			} `json:"authScheme,omitempty"`
		} `json:"config"`
	} `json:"channel"`
	Links map[string]any `json:"_links"`
}

const oktaTime = "2006-01-02T15:04:05.000Z"

func (o *Org) hookJSON(h *Hook) hookOut {
	var d hookOut
	d.ID, d.Name, d.Description, d.Status, d.VerificationStatus = h.ID, h.Name, h.Description, h.Status, h.VerificationStatus
	d.Created, d.LastUpdated, d.CreatedBy = h.Created.UTC().Format(oktaTime), h.Updated.UTC().Format(oktaTime), h.CreatedBy
	d.Events.Type, d.Events.Items, d.Events.Filter = "EVENT_TYPE", h.Types, h.Filter
	if len(d.Events.Filter) == 0 {
		d.Events.Filter = json.RawMessage("null")
	}
	d.Channel.Type, d.Channel.Version = "HTTP", "1.0.0"
	d.Channel.Config.URI, d.Channel.Config.Headers, d.Channel.Config.Method = h.URI, h.Headers, "POST"
	if h.AuthKey != "" {
		d.Channel.Config.AuthScheme = &struct {
			Type string `json:"type"`
			Key  string `json:"key"`
		}{Type: "HEADER", Key: h.AuthKey} // the value is never returned
	}
	self := o.URL + "/api/v1/eventHooks/" + h.ID
	post := map[string]any{"allow": []string{"POST"}}
	d.Links = map[string]any{"self": map[string]any{"href": self},
		"verify": map[string]any{"href": self + "/lifecycle/verify", "hints": post}}
	if h.Status == "ACTIVE" {
		d.Links["deactivate"] = map[string]any{"href": self + "/lifecycle/deactivate", "hints": post}
	} else {
		d.Links["activate"] = map[string]any{"href": self + "/lifecycle/activate", "hints": post}
	}
	return d
}

func (o *Org) writeHook(w http.ResponseWriter, h *Hook) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(o.hookJSON(h))
}

func (o *Org) listHooks(w http.ResponseWriter, _ *http.Request) {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	out := make([]hookOut, 0, len(o.hooks.order))
	for _, id := range o.hooks.order {
		out = append(out, o.hookJSON(o.hooks.byID[id]))
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// validate checks a create or replace body as Okta does.
func validate(d *hookDoc) error {
	switch {
	case strings.TrimSpace(d.Name) == "":
		return errors.New("name: The field cannot be left blank")
	case d.Events.Type != "EVENT_TYPE":
		return errors.New("events.type: must be EVENT_TYPE")
	case len(d.Events.Items) == 0:
		return errors.New("events.items: The field cannot be left blank")
	case len(d.Events.Items) > 300:
		return errors.New("events.items: An event hook may subscribe to at most 300 event types")
	case d.Channel.Type != "HTTP" || d.Channel.Version != "1.0.0":
		return errors.New("channel: type must be HTTP and version 1.0.0")
	case d.Channel.Config.AuthScheme != nil && d.Channel.Config.AuthScheme.Type != "HEADER":
		return errors.New("channel.config.authScheme.type: must be HEADER")
	}
	for _, hd := range d.Channel.Config.Headers {
		if strings.TrimSpace(hd.Key) == "" {
			return errors.New("channel.config.headers: a header needs a key")
		}
	}
	if f := bytes.TrimSpace(d.Events.Filter); len(f) > 0 && !bytes.Equal(f, []byte("null")) && f[0] != '{' {
		return errors.New("events.filter: must be an object")
	}
	u, err := url.Parse(d.Channel.Config.URI)
	if err != nil || u.Host == "" {
		return errors.New("channel.config.uri: not a valid URI")
	}
	local := u.Hostname() == "localhost" || strings.HasSuffix(u.Hostname(), ".localhost") || net.ParseIP(u.Hostname()).IsLoopback()
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return errors.New("channel.config.uri: The URI must use HTTPS")
	}
	return nil
}

func validationError(w http.ResponseWriter, cause string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"errorCode": "E0000001", "errorSummary": "Api validation failed: eventHook",
		"errorLink": "E0000001", "errorId": "oae1", "errorCauses": []any{map[string]string{"errorSummary": cause}}})
}

func readHookDoc(w http.ResponseWriter, r *http.Request) (*hookDoc, bool) {
	var d hookDoc
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&d); err != nil {
		writeError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
		return nil, false
	}
	if err := validate(&d); err != nil {
		validationError(w, err.Error())
		return nil, false
	}
	return &d, true
}

func (o *Org) createHook(w http.ResponseWriter, r *http.Request) {
	d, ok := readHookDoc(w, r)
	if !ok {
		return
	}
	o.mu.Lock()
	createdBy := o.callerOf(r).actorID
	o.mu.Unlock()
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	if len(o.hooks.order) >= 25 {
		validationError(w, "The maximum number of event hooks (25) for this org has been reached")
		return
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	now := time.Now()
	h := &Hook{ID: "who" + hex.EncodeToString(b), Status: "ACTIVE", VerificationStatus: "UNVERIFIED", CreatedBy: createdBy, Created: now}
	h.write(d, now)
	o.hooks.byID[h.ID] = h
	o.hooks.order = append(o.hooks.order, h.ID)
	o.writeHook(w, h)
}

func (o *Org) withHook(f func(w http.ResponseWriter, r *http.Request, h *Hook)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			// Validate before taking the lock, as the body is read.
			d, ok := readHookDoc(w, r)
			if !ok {
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), docKey{}, d))
		}
		o.hooks.mu.Lock()
		defer o.hooks.mu.Unlock()
		h, ok := o.hooks.byID[r.PathValue("id")]
		if !ok {
			writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.PathValue("id")+" (EventHook)")
			return
		}
		f(w, r, h)
	}
}

type docKey struct{}

// replaceHook is PUT: every writable field is replaced, and the hook is
// UNVERIFIED, as the PUT carries channel ("Updating the channel property
// requires you to verify the hook again").
func (o *Org) replaceHook(w http.ResponseWriter, r *http.Request, h *Hook) {
	d := r.Context().Value(docKey{}).(*hookDoc)
	h.write(d, time.Now())
	h.VerificationStatus = "UNVERIFIED"
	o.writeHook(w, h)
}

// write stores a request's writable fields. An authScheme without a value
// keeps the stored value.
func (h *Hook) write(d *hookDoc, now time.Time) {
	h.Name, h.Description, h.Types, h.URI, h.Updated = d.Name, d.Description, d.Events.Items, d.Channel.Config.URI, now
	h.Filter = nil
	if f := bytes.TrimSpace(d.Events.Filter); len(f) > 0 && !bytes.Equal(f, []byte("null")) {
		h.Filter = append(json.RawMessage(nil), f...)
	}
	h.Headers = append([]Header(nil), d.Channel.Config.Headers...)
	if a := d.Channel.Config.AuthScheme; a != nil {
		h.AuthKey = a.Key
		if a.Value != "" {
			h.AuthValue = a.Value
		}
	} else {
		h.AuthKey, h.AuthValue = "", ""
	}
}

func (o *Org) deleteHook(w http.ResponseWriter, _ *http.Request, h *Hook) {
	if h.Status != "INACTIVE" {
		validationError(w, "The event hook must be INACTIVE to be deleted: deactivate it first")
		return
	}
	delete(o.hooks.byID, h.ID)
	for i, id := range o.hooks.order {
		if id == h.ID {
			o.hooks.order = append(o.hooks.order[:i], o.hooks.order[i+1:]...)
			break
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (o *Org) setStatus(status string) func(http.ResponseWriter, *http.Request, *Hook) {
	return func(w http.ResponseWriter, _ *http.Request, h *Hook) {
		h.Status, h.Updated = status, time.Now()
		o.writeHook(w, h)
	}
}

// verifyHook sends the verification request without holding the lock: the
// endpoint may take up to VerifyTimeout.
func (o *Org) verifyHook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o.hooks.mu.Lock()
	h, ok := o.hooks.byID[id]
	var hook Hook
	if ok {
		hook = *h
		o.hooks.verifies[id]++
	}
	o.hooks.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (EventHook)")
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	challenge := hex.EncodeToString(b)
	cause := o.challenge(r.Context(), hook, challenge)
	if cause != "" {
		o.hooks.mu.Lock()
		o.hooks.verifies[id]++
		o.hooks.mu.Unlock()
		cause = o.challenge(r.Context(), hook, challenge) // Okta retries once
	}

	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	h, ok = o.hooks.byID[id]
	if !ok {
		writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (EventHook)")
		return
	}
	if cause != "" {
		h.VerificationStatus = "UNVERIFIED"
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"errorCode": "E0000001", "errorSummary": "Api validation failed: Verification",
			"errorLink": "E0000001", "errorId": "oae2", "errorCauses": []any{map[string]string{"errorSummary": cause}}})
		return
	}
	h.VerificationStatus = "VERIFIED"
	o.writeHook(w, h)
}

// challenge sends the verification GET and returns why it failed, or "".
func (o *Org) challenge(ctx context.Context, h Hook, challenge string) string {
	ctx, cancel := context.WithTimeout(ctx, VerifyTimeout)
	defer cancel()
	if _, err := url.Parse(h.URI); err != nil {
		return "Verification failed: invalid URI"
	}
	resp, err := o.endpoint(h).Verify(ctx, challenge)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return "Verification failed: the endpoint did not answer within 3 seconds"
		}
		return "Verification failed: could not connect to the endpoint"
	}
	if resp.Status != http.StatusOK {
		return fmt.Sprintf("Verification failed: the endpoint answered HTTP %d", resp.Status)
	}
	var v struct {
		Verification string `json:"verification"`
	}
	if json.Unmarshal([]byte(resp.Body), &v) != nil || v.Verification != challenge {
		return "Verification failed: the response did not contain the verification value"
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
