// Package standin is the stand-in Okta org that `make dev` (hookline dev)
// and the tests run in place of a real one: the System Log API
// (GET /api/v1/logs), the Event Hooks API (/api/v1/eventHooks, see
// hooks.go: what it models, with the bodies of Okta's OpenAPI spec 2026.06.3
// whose field lists are in openapi.go) and the org authorization server's
// token endpoint
// (POST /oauth2/v1/token), behaving as Okta's API reference documents:
//
//   - Auth: "Authorization: SSWS <api token>", or "Bearer <access token>"
//     issued by the token endpoint for a client_credentials grant whose
//     private_key_jwt client assertion (RS256/ES256, iss = sub = client id,
//     aud = the token endpoint, unexpired) verifies against the app's
//     public key. A scope the app was not granted is refused (invalid_scope);
//     a token without okta.logs.read gets 403 E0000006 with
//     WWW-Authenticate: ... error="insufficient_scope".
//   - Pages: limit events (default 100, at most 1000), sortOrder ASCENDING.
//     A polling read (no until) returns events in persistence order, the
//     order they were stored, so published can go backwards; since is
//     compared with the time an event was stored. A bounded read (until
//     set) returns since <= published < until in published order.
//   - Cursors: the next page is an opaque after value in a
//     Link: <...>; rel="next" header. A polling read always has one, even
//     on an empty page; a bounded read has one until the range is done.
//   - filter: eventType eq "x" joined with or.
//   - Rate limits: X-Rate-Limit-Limit, -Remaining and -Reset (epoch seconds)
//     on every answer; past the limit, 429 with errorCode E0000047 until the
//     window resets.
//
// Beyond Okta's API, POST /api/v1/logs stores a JSON array of events, as
// Okta writes to its System Log; `hookline send` writes what it sends there
// for the local dev stack. It ships in the hookline CLI for `make dev`, and
// is never linked into a function.
//
// It is also the only maker of fake Okta events and deliveries (fakes.go)
// and the only client that acts as Okta towards a hook endpoint
// (Endpoint).

package standin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Org is a running stand-in Okta org.
type Org struct {
	URL string // http://127.0.0.1:<port>

	srv *httptest.Server

	mu       sync.Mutex
	events   []stored
	apiToken string
	// readOnlyToken is a read-only admin's API token: it reads the System
	// Log but may not manage event hooks.
	readOnlyToken string
	hooks         *hooks
	apps          map[string]app
	tokens        map[string]string // access token -> scopes
	boundTo       map[string]string // DPoP-bound access token -> its key
	tokenClients  map[string]string // access token -> the service app's client id
	// tokenOwner is the user the API token acts as (in Okta, the admin who
	// created it): writes record it as their actor.
	tokenOwner string
	secret     string // makes after cursors opaque

	// rate limiting of /api/v1/logs
	limit      int
	window     time.Duration
	winStart   time.Time
	used       int
	fail429    map[int]bool // request numbers (1-based) answered 429
	logsCalls  int
	writeCalls int
	tokenCall  int
	now        func() time.Time
}

type stored struct {
	raw       json.RawMessage
	eventType string
	published time.Time
	storedAt  time.Time
}

type app struct {
	key    crypto.PublicKey
	scopes map[string]bool
	dpop   bool // "Require Demonstrating Proof of Possession (DPoP)"
}

// Start starts an org on a loopback port, closed in cleanup.
func Start(cleanup func(func())) *Org {
	o := &Org{apps: map[string]app{}, tokens: map[string]string{}, boundTo: map[string]string{}, tokenClients: map[string]string{}, tokenOwner: "00utokenowner", fail429: map[int]bool{}, limit: 600, window: time.Minute, now: time.Now}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	o.secret = hex.EncodeToString(b)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs", o.logs)
	mux.HandleFunc("POST /oauth2/v1/token", o.token)
	o.hooks = newHooks()
	o.routeHooks(mux)
	o.routeManagement(mux)
	mux.HandleFunc("POST /api/v1/logs", o.store)
	o.srv = httptest.NewServer(mux)
	o.URL = o.srv.URL
	cleanup(o.srv.Close)
	return o
}

// SetAPIToken sets the API token accepted as SSWS.
func (o *Org) SetAPIToken(tok string) { o.mu.Lock(); o.apiToken = tok; o.mu.Unlock() }

// SetReadOnlyAPIToken sets the API token of a read-only admin, accepted as
// SSWS for the System Log and refused (403 E0000006) for event hooks.
func (o *Org) SetReadOnlyAPIToken(tok string) { o.mu.Lock(); o.readOnlyToken = tok; o.mu.Unlock() }

// AddServiceApp registers a service app and the scopes granted to it.
func (o *Org) AddServiceApp(clientID string, pub crypto.PublicKey, scopes ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := map[string]bool{}
	for _, sc := range scopes {
		s[sc] = true
	}
	o.apps[clientID] = app{key: pub, scopes: s}
}

// RequireDPoP makes the app's tokens DPoP-bound (RFC 9449), as Okta's
// "Require DPoP" setting (on by default for new apps) does: the token
// endpoint wants a DPoP proof (invalid_dpop_proof without one) carrying its
// nonce (use_dpop_nonce, with a DPoP-Nonce header, until it does), and every
// API request then needs "Authorization: DPoP <token>" and a proof signed by
// the same key for its method and URL, with ath, the token's hash.
func (o *Org) RequireDPoP(clientID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.apps[clientID]
	a.dpop = true
	o.apps[clientID] = a
}

// SetRateLimit sets the requests allowed per window on /api/v1/logs.
func (o *Org) SetRateLimit(limit int, window time.Duration) {
	o.mu.Lock()
	o.limit, o.window, o.used, o.winStart = limit, window, 0, time.Time{}
	o.mu.Unlock()
}

// Fail429 answers the n-th request to /api/v1/logs (1-based, counting all
// requests so far) with 429 E0000047, as if the window were used up; its
// reset is the end of the current window.
func (o *Org) Fail429(n int) { o.mu.Lock(); o.fail429[n] = true; o.mu.Unlock() }

// LogsRequests is the number of requests to /api/v1/logs so far.
func (o *Org) LogsRequests() int { o.mu.Lock(); defer o.mu.Unlock(); return o.logsCalls }

// TokenRequests is the number of requests to the token endpoint so far.
func (o *Org) TokenRequests() int { o.mu.Lock(); defer o.mu.Unlock(); return o.tokenCall }

// Add stores events (LogEvent JSON objects) in the given order, which is
// their persistence order; their published values may go backwards.
func (o *Org) Add(raws ...[]byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, raw := range raws {
		var f struct {
			EventType string `json:"eventType"`
			Published string `json:"published"`
		}
		_ = json.Unmarshal(raw, &f)
		pub, _ := time.Parse(time.RFC3339Nano, f.Published)
		o.events = append(o.events, stored{raw: append(json.RawMessage(nil), raw...), eventType: f.EventType, published: pub, storedAt: o.now()})
	}
}

// store adds the events in a JSON array body (not an Okta API: the local
// stand-in of Okta writing its System Log). It takes the same credentials.
func (o *Org) store(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	ok := o.authorized(w, r)
	o.mu.Unlock()
	if !ok {
		return
	}
	var raws []json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&raws); err != nil {
		writeError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed: want a JSON array of events")
		return
	}
	docs := make([][]byte, len(raws))
	for i, raw := range raws {
		docs[i] = raw
	}
	o.Add(docs...)
	w.WriteHeader(http.StatusNoContent)
}

func (o *Org) logs(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.logsCalls++
	now := o.now()
	if o.winStart.IsZero() || now.Sub(o.winStart) >= o.window {
		o.winStart, o.used = now, 0
	}
	o.used++
	reset := o.winStart.Add(o.window)
	resetSec := reset.Unix()
	if reset.After(time.Unix(resetSec, 0)) {
		resetSec++ // a whole second, never before the window ends
	}
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(o.limit))
	w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(max(o.limit-o.used, 0)))
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(resetSec, 10))
	if !o.authorized(w, r) {
		return
	}
	if o.used > o.limit || o.fail429[o.logsCalls] {
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		return
	}

	q := r.URL.Query()
	bounded := q.Get("until") != ""
	if q.Get("sortOrder") != "" && q.Get("sortOrder") != "ASCENDING" {
		writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: sortOrder (this stand-in serves ASCENDING)")
		return
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: limit")
			return
		}
		limit = min(n, 1000)
	}
	types, err := parseFilter(q.Get("filter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: filter")
		return
	}
	since, until, err := bounds(q, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: "+err.Error())
		return
	}
	// The candidates, in the order this read returns them.
	var order []int
	for i, e := range o.events {
		if types != nil && !types[e.eventType] {
			continue
		}
		if bounded {
			if e.published.Before(since) || !e.published.Before(until) {
				continue
			}
		} else if e.storedAt.Before(since) {
			continue
		}
		order = append(order, i)
	}
	if bounded {
		sort.SliceStable(order, func(a, b int) bool { return o.events[order[a]].published.Before(o.events[order[b]].published) })
	}
	start := 0
	if a := q.Get("after"); a != "" {
		pos, ok := o.openCursor(a)
		if !ok {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after")
			return
		}
		start = pos
	}
	start = min(start, len(order))
	end := min(start+limit, len(order))
	page := make([]json.RawMessage, 0, end-start)
	for _, i := range order[start:end] {
		page = append(page, o.events[i].raw)
	}
	if !bounded || end < len(order) {
		next := *r.URL
		nq := next.Query()
		nq.Set("after", o.cursor(end))
		next.RawQuery = nq.Encode()
		w.Header().Add("Link", `<`+o.URL+r.URL.Path+`?`+r.URL.RawQuery+`>; rel="self"`)
		w.Header().Add("Link", `<`+o.URL+next.Path+`?`+next.RawQuery+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", "application/json")
	// Written by hand, not json.Marshal: Okta's bytes, not a re-encoding.
	w.Write([]byte("["))
	for i, raw := range page {
		if i > 0 {
			w.Write([]byte(","))
		}
		w.Write(raw)
	}
	w.Write([]byte("]"))
}

// cursor makes an opaque after value: a position MACed with the org's
// secret, so a client cannot compute or read one.
func (o *Org) cursor(pos int) string {
	s := strconv.Itoa(pos)
	h := sha256.Sum256([]byte(o.secret + s))
	return base64.RawURLEncoding.EncodeToString([]byte(s + "." + hex.EncodeToString(h[:6])))
}

func (o *Org) openCursor(after string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(after)
	if err != nil {
		return 0, false
	}
	s, _, _ := strings.Cut(string(b), ".")
	pos, err := strconv.Atoi(s)
	if err != nil || o.cursor(pos) != after {
		return 0, false
	}
	return pos, true
}

var filterTerm = regexp.MustCompile(`^eventType eq "([^"]+)"$`)

func parseFilter(f string) (map[string]bool, error) {
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	types := map[string]bool{}
	for _, term := range strings.Split(f, " or ") {
		m := filterTerm.FindStringSubmatch(strings.TrimSpace(term))
		if m == nil {
			return nil, fmt.Errorf("term %q", term)
		}
		types[m[1]] = true
	}
	return types, nil
}

func bounds(q url.Values, now time.Time) (since, until time.Time, err error) {
	until = now
	if u := q.Get("until"); u != "" {
		if until, err = time.Parse(time.RFC3339Nano, u); err != nil {
			return since, until, fmt.Errorf("until")
		}
	}
	since = until.Add(-7 * 24 * time.Hour) // Okta's default
	if s := q.Get("since"); s != "" {
		if since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return since, until, fmt.Errorf("since")
		}
	}
	return since, until, nil
}

func (o *Org) authorized(w http.ResponseWriter, r *http.Request) bool {
	return o.authorizedFor(w, r, "okta.logs.read")
}

// authorizedFor checks the credentials of a request that needs scope: an
// API token (a read-only admin's may not manage event hooks), or an access
// token granted the scope.
func (o *Org) authorizedFor(w http.ResponseWriter, r *http.Request, scope string) bool {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case scheme == "SSWS" && o.apiToken != "" && cred == o.apiToken:
		return true
	case scheme == "SSWS" && o.readOnlyToken != "" && cred == o.readOnlyToken:
		if scope == "okta.logs.read" {
			return true
		}
		writeError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
		return false
	case scheme == "DPoP" || scheme == "Bearer":
		scopes, ok := o.tokens[cred]
		if jkt, bound := o.boundTo[cred]; ok && (bound || scheme == "DPoP") {
			claims, key, err := verifyProof(r.Header.Get("DPoP"), r.Method, o.URL+r.URL.Path)
			ath := sha256.Sum256([]byte(cred))
			if scheme != "DPoP" || !bound || err != nil || key != jkt || claims.Ath != base64.RawURLEncoding.EncodeToString(ath[:]) {
				w.Header().Set("WWW-Authenticate", `DPoP algs="ES256", error="invalid_dpop_proof", error_description="'DPoP' proof missing or invalid."`)
				writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
				return false
			}
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+o.URL+`/oauth2/v1/authorize", realm="`+o.URL+`", scope="`+scope+`", error="invalid_token", error_description="The token is not valid."`)
			writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
			return false
		}
		if !strings.Contains(" "+scopes+" ", " "+scope+" ") {
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+o.URL+`/oauth2/v1/authorize", realm="`+o.URL+`", scope="`+scope+`", error="insufficient_scope", error_description="The access token provided does not contain the required scopes."`)
			writeError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
			return false
		}
		return true
	}
	writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
	return false
}

func (o *Org) token(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tokenCall++
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported.")
		return
	}
	if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	}
	clientID, err := o.verifyAssertion(f.Get("client_assertion"), o.URL+"/oauth2/v1/token")
	if err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The client_assertion token is invalid: "+err.Error())
		return
	}
	a := o.apps[clientID]
	var jkt string // the key a DPoP-bound token is bound to
	if a.dpop {
		proof := r.Header.Get("DPoP")
		if proof == "" {
			oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
			return
		}
		claims, key, err := verifyProof(proof, http.MethodPost, o.URL+"/oauth2/v1/token")
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", "The DPoP proof is invalid: "+err.Error())
			return
		}
		if claims.Nonce == "" || claims.Nonce != o.dpopNonce() {
			w.Header().Set("DPoP-Nonce", o.dpopNonce())
			oauthError(w, http.StatusBadRequest, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof.")
			return
		}
		jkt = key
	}
	for _, s := range strings.Fields(f.Get("scope")) {
		if !a.scopes[s] {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "The following scopes are not allowed: "+s)
			return
		}
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	o.tokens[tok] = f.Get("scope")
	o.tokenClients[tok] = clientID
	tokenType := "Bearer"
	if jkt != "" {
		o.boundTo[tok] = jkt
		tokenType = "DPoP"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token_type": tokenType, "expires_in": 3600, "access_token": tok, "scope": f.Get("scope")})
}

func (o *Org) dpopNonce() string { return "nonce-" + o.secret[:8] }

// proofClaims are the DPoP proof claims the stand-in checks.
type proofClaims struct {
	Htm, Htu, Nonce, Ath, Jti string
	Iat                       int64
}

// verifyProof checks a DPoP proof: typ dpop+jwt, an ES256 signature by the
// P-256 key in its jwk header, htm and htu as the request's. It returns the
// claims and the key (as "x.y") the proof is signed with.
func verifyProof(proof, method, htu string) (proofClaims, string, error) {
	var c proofClaims
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		return c, "", fmt.Errorf("not a JWS")
	}
	var hdr struct {
		Typ, Alg string
		JWK      struct{ Kty, Crv, X, Y string }
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return c, "", err
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		return c, "", err
	}
	if hdr.Typ != "dpop+jwt" || hdr.Alg != "ES256" || hdr.JWK.Kty != "EC" || hdr.JWK.Crv != "P-256" {
		return c, "", fmt.Errorf("header")
	}
	x, errX := base64.RawURLEncoding.DecodeString(hdr.JWK.X)
	y, errY := base64.RawURLEncoding.DecodeString(hdr.JWK.Y)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if errX != nil || errY != nil || err != nil {
		return c, "", fmt.Errorf("jwk")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err != nil || len(sig) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return c, "", fmt.Errorf("signature")
	}
	if c.Htm != method || c.Htu != htu || c.Jti == "" || c.Iat == 0 {
		return c, "", fmt.Errorf("htm, htu, jti or iat")
	}
	return c, hdr.JWK.X + "." + hdr.JWK.Y, nil
}

func (o *Org) verifyAssertion(jwt, aud string) (string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("not a JWS")
	}
	var hdr struct{ Alg string }
	var claims struct {
		Iss, Sub, Aud string
		Exp           int64
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return "", err
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return "", err
	}
	a, ok := o.apps[claims.Iss]
	if !ok || claims.Sub != claims.Iss {
		return "", fmt.Errorf("unknown client")
	}
	if claims.Aud != aud {
		return "", fmt.Errorf("aud")
	}
	if claims.Exp < o.now().Unix() {
		return "", fmt.Errorf("expired")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := a.key.(type) {
	case *rsa.PublicKey:
		if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
			return "", fmt.Errorf("signature")
		}
	case *ecdsa.PublicKey:
		if hdr.Alg != "ES256" || len(sig) != 64 ||
			!ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return "", fmt.Errorf("signature")
		}
	default:
		return "", fmt.Errorf("no key")
	}
	return claims.Iss, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae0", "errorCauses": []any{}})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
