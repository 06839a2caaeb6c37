package standin

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"time"
)

// The management endpoints a handler calls back into Okta with, as Okta's
// API reference documents them: each answers 204 No Content, needs its
// scope for a service app's token, and writes a System Log event naming the
// caller as its actor (for a service app also as client.id), as Okta does.
// That event is what a handler writing to Okta gets back through the hook.
//
//   - PUT /api/v1/groups/{groupId}/users/{userId} (okta.groups.manage):
//     assign a user to a group, event group.user_membership.add.
//   - DELETE /api/v1/users/{userId}/sessions (okta.users.manage):
//     revoke a user's sessions, event user.session.clear.
func (o *Org) routeManagement(mux *http.ServeMux) {
	mux.HandleFunc("PUT /api/v1/groups/{groupId}/users/{userId}", func(w http.ResponseWriter, r *http.Request) {
		o.write(w, r, "okta.groups.manage", "group.user_membership.add", "Add user to group membership",
			target{r.PathValue("userId"), "User"}, target{r.PathValue("groupId"), "UserGroup"})
	})
	mux.HandleFunc("DELETE /api/v1/users/{userId}/sessions", func(w http.ResponseWriter, r *http.Request) {
		o.write(w, r, "okta.users.manage", "user.session.clear", "Clear user session",
			target{r.PathValue("userId"), "User"})
	})
}

type target struct{ ID, Type string }

// caller is who made an authorized request, as a System Log actor: the API
// token's owner (a User), or the service app (a PublicClientApp whose id is
// its client id, also the event's client.id).
type caller struct {
	actorID, actorType, clientID string
}

// callerOf is the caller of an authorized request; o.mu is held.
func (o *Org) callerOf(r *http.Request) caller {
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if id, ok := o.tokenClients[cred]; scheme == "Bearer" && ok {
		return caller{actorID: id, actorType: "PublicClientApp", clientID: id}
	}
	return caller{actorID: o.tokenOwner, actorType: "User"}
}

// write authorizes a write, records its event and answers 204.
func (o *Org) write(w http.ResponseWriter, r *http.Request, scope, eventType, message string, targets ...target) {
	o.mu.Lock()
	ok := o.authorizedFor(w, r, scope)
	c := o.callerOf(r)
	o.writeCalls++
	o.mu.Unlock()
	if !ok {
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	ts := make([]map[string]string, len(targets))
	for i, t := range targets {
		ts[i] = map[string]string{"id": t.ID, "type": t.Type}
	}
	client := map[string]any{"ipAddress": "198.51.100.9"}
	if c.clientID != "" {
		client["id"] = c.clientID
	}
	ev, _ := json.Marshal(map[string]any{
		"uuid":           id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:],
		"published":      time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"eventType":      eventType,
		"version":        "0",
		"severity":       "INFO",
		"displayMessage": message,
		"actor":          map[string]string{"id": c.actorID, "type": c.actorType},
		"client":         client,
		"outcome":        map[string]string{"result": "SUCCESS"},
		"target":         ts,
	})
	o.Add(ev)
	w.WriteHeader(http.StatusNoContent)
}

// WriteRequests is the number of requests to the management endpoints.
func (o *Org) WriteRequests() int { o.mu.Lock(); defer o.mu.Unlock(); return o.writeCalls }

// Events returns every stored System Log event, in persistence order.
func (o *Org) Events() []json.RawMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]json.RawMessage, len(o.events))
	for i, e := range o.events {
		out[i] = e.raw
	}
	return out
}

// RSAKey returns a new RSA key and its PKCS #8 PEM, the privateKey of a
// service app's credentials (register its public half with AddServiceApp).
func RSAKey() (*rsa.PrivateKey, string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, "", err
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}
