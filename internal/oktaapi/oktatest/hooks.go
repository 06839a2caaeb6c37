package oktatest

// The Event Hooks API of the stand-in org, as Okta's API reference
// (Event Hooks management API) documents it:
//
//   - GET /api/v1/eventHooks lists the hooks; POST creates one, answering it
//     ACTIVE and UNVERIFIED; GET/PUT/DELETE /api/v1/eventHooks/{id} read,
//     replace and delete one (Okta deletes only an INACTIVE hook: 400
//     E0000001 otherwise); POST .../lifecycle/activate and .../deactivate
//     set the status; an unknown id is 404 E0000007.
//   - The hook's authScheme value is write-only: no answer carries it.
//   - POST .../lifecycle/verify sends the one-time verification request:
//     a GET to the hook's URI carrying x-okta-verification-challenge and
//     the auth header, with a 3 s timeout, and one retry after a timeout or
//     an error answer. An answer of 200 with
//     {"verification": <challenge>} makes the hook VERIFIED; anything else
//     is 400 E0000001 with the reason in errorCauses, and the hook stays
//     UNVERIFIED. A PUT that changes the URI makes the hook UNVERIFIED.
//   - Validation (400 E0000001): a name, events.type EVENT_TYPE with 1 to
//     300 items, channel HTTP 1.0.0 with an https URI (this stand-in also
//     takes http on a loopback or *.localhost host, which resolve to
//     127.0.0.1 here as curl resolves them), at most 25 hooks per org.
//   - Credentials: an API token, or an access token with scope
//     okta.eventHooks.manage (otherwise 403 E0000006, insufficient_scope);
//     a read-only admin's API token gets 403 E0000006.
//   - Rate limits: X-Rate-Limit-* headers; FailHooks429 answers chosen
//     requests 429 E0000047 (FailHooks: any other status, as E0000009).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
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
	URI                string
	AuthKey, AuthValue string
	Created, Updated   time.Time
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

// HooksRequests is the number of requests to /api/v1/eventHooks so far.
func (o *Org) HooksRequests() int { o.hooks.mu.Lock(); defer o.hooks.mu.Unlock(); return o.hooks.calls }

// Hooks returns copies of the stored hooks, secrets included, in creation
// order.
func (o *Org) Hooks() []Hook {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	var out []Hook
	for _, id := range o.hooks.order {
		out = append(out, *o.hooks.byID[id])
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
		return 0, fmt.Errorf("oktatest: hook %s is not an ACTIVE, VERIFIED hook", id)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URI, strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Okta-Integrations")
	req.Header.Set(hook.AuthKey, hook.AuthValue)
	resp, err := o.hooks.http.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (o *Org) routeHooks(mux *http.ServeMux) {
	wrap := func(f func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			o.hooks.mu.Lock()
			o.hooks.calls++
			n := o.hooks.calls
			fail, after := o.hooks.fail[n], o.hooks.after
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
	mux.HandleFunc("GET /api/v1/eventHooks/{id}", wrap(o.withHook(func(w http.ResponseWriter, _ *http.Request, h *Hook) { writeHook(w, h) })))
	mux.HandleFunc("PUT /api/v1/eventHooks/{id}", wrap(o.withHook(o.replaceHook)))
	mux.HandleFunc("DELETE /api/v1/eventHooks/{id}", wrap(o.withHook(o.deleteHook)))
	mux.HandleFunc("POST /api/v1/eventHooks/{id}/lifecycle/activate", wrap(o.withHook(o.setStatus("ACTIVE"))))
	mux.HandleFunc("POST /api/v1/eventHooks/{id}/lifecycle/deactivate", wrap(o.withHook(o.setStatus("INACTIVE"))))
	mux.HandleFunc("POST /api/v1/eventHooks/{id}/lifecycle/verify", wrap(o.verifyHook))
}

// hookDoc is the EventHook JSON document.
type hookDoc struct {
	ID                 string  `json:"id,omitempty"`
	Name               string  `json:"name"`
	Description        *string `json:"description"`
	Status             string  `json:"status,omitempty"`
	VerificationStatus string  `json:"verificationStatus,omitempty"`
	Created            string  `json:"created,omitempty"`
	LastUpdated        string  `json:"lastUpdated,omitempty"`
	Events             struct {
		Type   string   `json:"type"`
		Items  []string `json:"items"`
		Filter any      `json:"filter"`
	} `json:"events"`
	Channel struct {
		Type    string `json:"type"`
		Version string `json:"version"`
		Config  struct {
			URI        string `json:"uri"`
			Headers    []any  `json:"headers"`
			Method     string `json:"method,omitempty"`
			AuthScheme *struct {
				Type  string `json:"type"`
				Key   string `json:"key"`
				Value string `json:"value,omitempty"`
			} `json:"authScheme"`
		} `json:"config"`
	} `json:"channel"`
}

func writeHook(w http.ResponseWriter, h *Hook) {
	var d hookDoc
	d.ID, d.Name, d.Description, d.Status, d.VerificationStatus = h.ID, h.Name, h.Description, h.Status, h.VerificationStatus
	d.Created, d.LastUpdated = h.Created.UTC().Format(time.RFC3339), h.Updated.UTC().Format(time.RFC3339)
	d.Events.Type, d.Events.Items = "EVENT_TYPE", h.Types
	d.Channel.Type, d.Channel.Version = "HTTP", "1.0.0"
	d.Channel.Config.URI, d.Channel.Config.Headers, d.Channel.Config.Method = h.URI, []any{}, "POST"
	d.Channel.Config.AuthScheme = &struct {
		Type  string `json:"type"`
		Key   string `json:"key"`
		Value string `json:"value,omitempty"`
	}{Type: "HEADER", Key: h.AuthKey} // the value is never returned
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(d)
}

func (o *Org) listHooks(w http.ResponseWriter, _ *http.Request) {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("["))
	for i, id := range o.hooks.order {
		if i > 0 {
			w.Write([]byte(","))
		}
		rec := &bufferWriter{header: http.Header{}}
		writeHook(rec, o.hooks.byID[id])
		w.Write([]byte(strings.TrimSpace(rec.buf.String())))
	}
	w.Write([]byte("]"))
}

type bufferWriter struct {
	header http.Header
	buf    strings.Builder
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(int)             {}

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
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	if len(o.hooks.order) >= 25 {
		validationError(w, "The maximum number of event hooks (25) for this org has been reached")
		return
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	now := time.Now()
	h := &Hook{ID: "who" + hex.EncodeToString(b), Name: d.Name, Description: d.Description, Status: "ACTIVE",
		VerificationStatus: "UNVERIFIED", Types: d.Events.Items, URI: d.Channel.Config.URI, Created: now, Updated: now}
	if a := d.Channel.Config.AuthScheme; a != nil {
		h.AuthKey, h.AuthValue = a.Key, a.Value
	}
	o.hooks.byID[h.ID] = h
	o.hooks.order = append(o.hooks.order, h.ID)
	writeHook(w, h)
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

func (o *Org) replaceHook(w http.ResponseWriter, r *http.Request, h *Hook) {
	d := r.Context().Value(docKey{}).(*hookDoc)
	if d.Channel.Config.URI != h.URI {
		h.VerificationStatus = "UNVERIFIED" // a new URI must be verified again
	}
	h.Name, h.Description, h.Types, h.URI, h.Updated = d.Name, d.Description, d.Events.Items, d.Channel.Config.URI, time.Now()
	if a := d.Channel.Config.AuthScheme; a != nil {
		h.AuthKey = a.Key
		if a.Value != "" {
			h.AuthValue = a.Value
		}
	}
	writeHook(w, h)
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
		writeHook(w, h)
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
	writeHook(w, h)
}

// challenge sends the verification GET and returns why it failed, or "".
func (o *Org) challenge(ctx context.Context, h Hook, challenge string) string {
	ctx, cancel := context.WithTimeout(ctx, VerifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URI, nil)
	if err != nil {
		return "Verification failed: invalid URI"
	}
	req.Header.Set("x-okta-verification-challenge", challenge)
	req.Header.Set("User-Agent", "Okta-Integrations")
	if h.AuthKey != "" {
		req.Header.Set(h.AuthKey, h.AuthValue)
	}
	resp, err := o.hooks.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return "Verification failed: the endpoint did not answer within 3 seconds"
		}
		return "Verification failed: could not connect to the endpoint"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("Verification failed: the endpoint answered HTTP %d", resp.StatusCode)
	}
	var v struct {
		Verification string `json:"verification"`
	}
	if json.Unmarshal(body, &v) != nil || v.Verification != challenge {
		return "Verification failed: the response did not contain the verification value"
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
