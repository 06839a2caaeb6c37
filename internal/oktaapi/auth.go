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
	"strconv"
	"strings"
	"sync"
	"time"
)

// authorizer sets the Authorization header of a request to Okta's API.
type authorizer interface {
	authorize(ctx context.Context, req *http.Request) error
	// invalidate drops a cached token that Okta refused.
	invalidate()
}

// apiToken signs requests with an API token (Authorization: SSWS <token>).
type apiToken string

func (t apiToken) authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "SSWS "+string(t))
	return nil
}

func (apiToken) invalidate() {}

// serviceApp gets access tokens for an OAuth 2.0 service app with the
// client credentials grant and a private_key_jwt client assertion, and
// caches each until shortly before it expires.
type serviceApp struct {
	tokenURL string
	clientID string
	keyID    string
	key      crypto.Signer
	scopes   string
	http     *http.Client
	now      func() time.Time
	onCall   func() // counts token requests

	mu      sync.Mutex
	token   string
	expires time.Time
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
	req.Header.Set("Authorization", "Bearer "+a.token)
	return nil
}

// fetch exchanges a fresh client assertion for an access token
// (POST /oauth2/v1/token on the org authorization server).
func (a *serviceApp) fetch(ctx context.Context) error {
	assertion, err := a.assertion()
	if err != nil {
		return fmt.Errorf("%w: sign client assertion: %v", ErrCredentials, err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {a.scopes},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if a.onCall != nil {
		a.onCall()
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return unreachable(a.tokenURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var tok struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	jsonErr := json.Unmarshal(body, &tok)
	if resp.StatusCode == http.StatusOK && jsonErr == nil && tok.AccessToken != "" {
		if !strings.EqualFold(tok.TokenType, "Bearer") {
			return fmt.Errorf("%w: the token endpoint issued a %q token; this client sends Bearer tokens: turn off \"Require DPoP\" (Proof of possession) in the service app's settings", ErrUnauthorized, tok.TokenType)
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
		// The token endpoint has its own rate limit (E0000047): the caller
		// stops and tries after the reset, as for the API's.
		reset := a.now().Add(DefaultNoResetWait)
		if sec, err := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64); err == nil && sec > 0 {
			reset = time.Unix(sec, 0)
		}
		return &RateLimitError{ResetAt: reset}
	}
	if jsonErr != nil || tok.Error == "" {
		if resp.StatusCode >= 500 {
			return fmt.Errorf("okta: POST %s answered %d", a.tokenURL, resp.StatusCode)
		}
		return fmt.Errorf("%w: POST %s answered %d with no OAuth error: is orgUrl your Okta org?", ErrOrgURL, a.tokenURL, resp.StatusCode)
	}
	switch tok.Error {
	case "invalid_scope":
		return fmt.Errorf("%w: the service app is not granted scope %s (Okta API Scopes tab): %s", ErrForbidden, a.scopes, tok.Description)
	case "invalid_dpop_proof", "use_dpop_nonce":
		return fmt.Errorf("%w: the service app requires DPoP, which this client does not send: turn off \"Require DPoP\" (Proof of possession) in its settings: %s", ErrUnauthorized, tok.Description)
	}
	return fmt.Errorf("%w: token endpoint: %s: %s (check clientId, privateKey and keyId against the service app's public keys)", ErrUnauthorized, tok.Error, tok.Description)
}

// assertion is the signed JWT that authenticates the client: iss and sub
// are the client id, aud the token endpoint, valid for five minutes.
func (a *serviceApp) assertion() (string, error) {
	alg := "RS256"
	if _, ok := a.key.(*ecdsa.PrivateKey); ok {
		alg = "ES256"
	}
	header := map[string]string{"alg": alg, "typ": "JWT"}
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
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(signing))
	var sig []byte
	switch k := a.key.(type) {
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
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
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
