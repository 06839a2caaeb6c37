package oktaapi

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// authorizer sets the Authorization header of a request to Okta's API.
type authorizer interface {
	authorize(ctx context.Context, req *http.Request) error
	// invalidate drops a cached token that Okta refused.
	invalidate()
	// secrets are what it sent that no error may quote.
	secrets() []string
}

// apiToken signs requests with an API token (Authorization: SSWS <token>).
type apiToken string

func (t apiToken) authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "SSWS "+string(t))
	return nil
}

func (apiToken) invalidate() {}

func (t apiToken) secrets() []string { return []string{string(t)} }

// serviceApp gets access tokens for an OAuth 2.0 service app with the
// client credentials grant and a private_key_jwt client assertion, and
// caches each until shortly before it expires. When the app requires DPoP
// (Okta's default for new apps) the token endpoint says so, and the app's
// tokens are then bound to a key made for this client: every request
// carries a DPoP proof signed with it.
type serviceApp struct {
	tokenURL string
	clientID string
	keyID    string
	key      crypto.Signer
	scopes   string
	http     *http.Client
	now      func() time.Time
	onCall   func() // counts token requests

	mu        sync.Mutex
	token     string
	tokenType string // "Bearer" or "DPoP"
	expires   time.Time
	dpopKey   *ecdsa.PrivateKey // nil until the token endpoint asks for DPoP
	nonce     string            // the last DPoP-Nonce the org sent

	// The last access token, client assertion and DPoP proof sent, for
	// secrets: under their own lock, as authorize holds mu while it fetches.
	sentMu                              sync.Mutex
	lastToken, lastAssertion, lastProof string
}

func (a *serviceApp) secrets() []string {
	a.sentMu.Lock()
	defer a.sentMu.Unlock()
	return []string{a.clientID, a.keyID, a.lastToken, a.lastAssertion, a.lastProof}
}

// noteSent keeps what was sent for secrets; "" leaves a value as it was.
func (a *serviceApp) noteSent(token, assertion, proof string) {
	a.sentMu.Lock()
	for _, f := range []struct {
		dst *string
		v   string
	}{{&a.lastToken, token}, {&a.lastAssertion, assertion}, {&a.lastProof, proof}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	a.sentMu.Unlock()
}

func (a *serviceApp) invalidate() {
	a.mu.Lock()
	a.token = ""
	a.mu.Unlock()
}

func (a *serviceApp) authorize(ctx context.Context, req *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == "" || !a.now().Before(a.expires) {
		if err := a.fetch(ctx); err != nil {
			return err
		}
	}
	if a.tokenType != "DPoP" {
		a.noteSent(a.token, "", "")
		req.Header.Set("Authorization", "Bearer "+a.token)
		return nil
	}
	ath := sha256.Sum256([]byte(a.token))
	proof, err := a.proof(req.Method, req.URL, map[string]any{"ath": base64.RawURLEncoding.EncodeToString(ath[:])})
	if err != nil {
		return fmt.Errorf("okta: DPoP proof: %w", err)
	}
	a.noteSent(a.token, "", proof)
	req.Header.Set("Authorization", "DPoP "+a.token)
	req.Header.Set("DPoP", proof)
	return nil
}

// tokenAnswer is the token endpoint's answer, success or OAuth error.
type tokenAnswer struct {
	TokenType   string `json:"token_type"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
	// json is false when the body was not a JSON object.
	json bool
}

// fetch exchanges a fresh client assertion for an access token
// (POST /oauth2/v1/token on the org authorization server). Asked for DPoP
// (invalid_dpop_proof) it makes a key and sends a proof; asked for a nonce
// (use_dpop_nonce) it sends the proof again with the nonce given.
func (a *serviceApp) fetch(ctx context.Context) error {
	for range 3 {
		resp, tok, err := a.tokenRequest(ctx)
		if err != nil {
			return err
		}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			a.nonce = n
		}
		if resp.StatusCode == http.StatusOK && tok.json && tok.AccessToken != "" {
			switch {
			case strings.EqualFold(tok.TokenType, "Bearer"):
				a.tokenType = "Bearer"
			case strings.EqualFold(tok.TokenType, "DPoP") && a.dpopKey != nil:
				a.tokenType = "DPoP"
			default:
				return fmt.Errorf("%w: the token endpoint issued a %q token, which this client cannot use", ErrUnauthorized, oktaText(tok.TokenType))
			}
			life := time.Duration(tok.ExpiresIn) * time.Second
			if life <= 0 {
				life = 5 * time.Minute
			}
			a.token = tok.AccessToken
			// Renew a minute early, so a token never expires mid-request.
			a.expires = a.now().Add(max(life-time.Minute, life/2))
			return nil
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			// The token endpoint has its own rate limit (E0000047): the
			// caller stops and tries after the reset, as for the API's.
			reset, ok := resetTime(resp, a.now())
			if !ok {
				reset = a.now().Add(DefaultNoResetWait)
			}
			return &RateLimitError{ResetAt: reset, Implausible: reset.Sub(a.now()) > MaxResetWait}
		}
		if !tok.json || tok.Error == "" {
			if resp.StatusCode >= 500 {
				return fmt.Errorf("okta: POST %s answered %d", a.tokenURL, resp.StatusCode)
			}
			return fmt.Errorf("%w: POST %s answered %d with no OAuth error: is orgUrl your Okta org?", ErrOrgURL, a.tokenURL, resp.StatusCode)
		}
		switch {
		case tok.Error == "invalid_dpop_proof" && a.dpopKey == nil,
			tok.Error == "use_dpop_nonce" && a.nonce != "":
			if a.dpopKey == nil {
				k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				if err != nil {
					return err
				}
				a.dpopKey = k
			}
			continue
		case tok.Error == "invalid_scope":
			return fmt.Errorf("%w: the service app is not granted scope %s (Okta API Scopes tab): %s", ErrForbidden, a.scopes, oktaText(tok.Description))
		}
		return fmt.Errorf("%w: token endpoint: %s: %s (check clientId, privateKey and keyId against the service app's public keys)", ErrUnauthorized, oktaText(tok.Error), oktaText(tok.Description))
	}
	return fmt.Errorf("%w: the token endpoint kept refusing the DPoP proof", ErrUnauthorized)
}

func (a *serviceApp) tokenRequest(ctx context.Context) (*http.Response, tokenAnswer, error) {
	var tok tokenAnswer
	assertion, err := a.assertion()
	if err != nil {
		return nil, tok, fmt.Errorf("%w: sign client assertion: %v", ErrCredentials, err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {a.scopes},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, tok, fmt.Errorf("okta: token endpoint %s is not a URL to send to", redactURL(a.tokenURL))
	}
	proof := ""
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if a.dpopKey != nil {
		if proof, err = a.proof(http.MethodPost, req.URL, nil); err != nil {
			return nil, tok, fmt.Errorf("okta: DPoP proof: %w", err)
		}
		req.Header.Set("DPoP", proof)
	}
	a.noteSent("", assertion, proof)
	if a.onCall != nil {
		a.onCall()
	}
	// a.http follows no redirect: a 307 would post the client assertion
	// (a signed JWT, good for an access token for five minutes) again to
	// the Location.
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, tok, unreachable(a.tokenURL, err)
	}
	defer resp.Body.Close()
	if isRedirect(resp.StatusCode) {
		return nil, tok, redirectError(http.MethodPost, req.URL, resp)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	tok.json = json.Unmarshal(body, &tok) == nil
	return resp, tok, nil
}

// proof is a DPoP proof (RFC 9449) for method and u, signed with the DPoP
// key, carrying the org's last nonce and the extra claims (ath).
func (a *serviceApp) proof(method string, u *url.URL, extra map[string]any) (string, error) {
	pub := a.dpopKey.PublicKey
	x, y, err := ecPoint(&pub)
	if err != nil {
		return "", err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	htu := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	claims := map[string]any{"htm": method, "htu": htu.String(), "iat": a.now().Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti)}
	if a.nonce != "" {
		claims["nonce"] = a.nonce
	}
	for k, v := range extra {
		claims[k] = v
	}
	header := map[string]any{"typ": "dpop+jwt", "alg": "ES256",
		"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y}}
	return signJWT(a.dpopKey, header, claims)
}

// ecPoint is a P-256 public key's coordinates, base64url, as a JWK has them.
func ecPoint(pub *ecdsa.PublicKey) (x, y string, err error) {
	b, err := pub.Bytes() // 0x04 || X || Y
	if err != nil || len(b) != 65 {
		return "", "", errors.New("not a P-256 key")
	}
	return base64.RawURLEncoding.EncodeToString(b[1:33]), base64.RawURLEncoding.EncodeToString(b[33:]), nil
}

// assertion is the signed JWT that authenticates the client: iss and sub
// are the client id, aud the token endpoint, valid for five minutes.
func (a *serviceApp) assertion() (string, error) {
	alg := "RS256"
	if _, ok := a.key.(*ecdsa.PrivateKey); ok {
		alg = "ES256"
	}
	header := map[string]any{"alg": alg, "typ": "JWT"}
	if a.keyID != "" {
		header["kid"] = a.keyID
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := a.now()
	claims := map[string]any{
		"iss": a.clientID, "sub": a.clientID, "aud": a.tokenURL,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti),
	}
	return signJWT(a.key, header, claims)
}

// signJWT signs a compact JWS: RS256 with an RSA key, ES256 with a P-256 key.
func signJWT(key crypto.Signer, header, claims map[string]any) (string, error) {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		s, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
		if err != nil {
			return "", err
		}
		sig = s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", err
		}
		sig = append(fixed(r, 32), fixed(s, 32)...)
	default:
		return "", errors.New("unsupported key type")
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func fixed(n *big.Int, size int) []byte {
	b := make([]byte, size)
	return n.FillBytes(b)
}

// parsePrivateKey reads an RSA key (PKCS#1 or PKCS#8, signed RS256) or a
// P-256 EC key (SEC 1 or PKCS#8, signed ES256) from PEM.
func parsePrivateKey(pemText string) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if block == nil {
		return nil, errors.New("not PEM (want -----BEGIN PRIVATE KEY-----)")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("PEM block %q is not a private key (want an unencrypted PRIVATE KEY)", block.Type)
	default:
		// Not quoted: an unknown label may be part of a pasted secret.
		return nil, errors.New("the PEM block is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
	}
	if err != nil {
		return nil, errors.New("the PEM block does not hold a readable private key")
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("EC keys must be P-256 (ES256)")
		}
		return k, nil
	}
	return nil, errors.New("want an RSA or P-256 EC key")
}
