package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/standin"
)

func runOktaPreview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("okta preview", stderr)
	typ := fs.String("type", "", "event type of the sample event (required), such as user.lifecycle.create")
	url := fs.String("url", "", "endpoint (default: the stack's EndpointUrl, else the running dev stack's)")
	stack := fs.String("stack", "", "CloudFormation stack whose EndpointUrl and HookSecretArn to use")
	secretID := fs.String("secret-id", "", "hook secret (default: the stack's HookSecretArn, else the dev stack's secret)")
	endpoint := fs.String("endpoint-url", "", "AWS endpoint, such as a local kumo (same as AWS_ENDPOINT_URL)")
	statePath := fs.String("state", defaultState, "state file written by `hookline dev`")
	org := addOrgFlag(fs)
	header := addAuthHeaderFlag(fs)
	help(fs, `usage: hookline okta preview --type T [--url URL] [flags]

Sends one sample delivery of event type T to the deployed (--stack) or local
(make dev) endpoint, as Okta delivers it: a POST with the hook secret in the receiver's auth
header (--auth-header). Prints the endpoint's answer (never the secret); exits 1
unless it is 200. The endpoint must use https (http only on a loopback
address, such as the dev stack's), and a redirect is refused: the secret goes
to that URL only.`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*typ) == "" {
		return fmt.Errorf("%w: --type is required", errUsage)
	}
	c := &standin.Endpoint{URL: *url, AuthHeader: authHeaderOr(*header)}
	if *stack != "" || *secretID != "" {
		f := &oktaFlags{stack: stack, org: org, endpoint: endpoint, url: url, secretID: secretID}
		e := &oktaEnv{stack: *stack, org: *org, url: *url, secretID: *secretID}
		if err := f.readAWS(ctx, e); err != nil {
			return err
		}
		secret, _, err := e.hookSecret(ctx)
		if err != nil {
			return err
		}
		c.URL, c.Secret = e.url, secret
	}
	if c.URL == "" || c.Secret == "" {
		st, err := readState(*statePath)
		if err != nil || !devstack.ProcessAlive(st.PID) {
			return fmt.Errorf("%w: give --stack (or --url and --secret-id), or run `make dev` first", errUsage)
		}
		if d, ok := st.Orgs[*org]; ok {
			st.URL, st.Secret = d.URL, d.Secret // that org of the dev stack
		} else if *org != "" {
			return fmt.Errorf("%w: --org %s: the dev stack serves no such org", errUsage, *org)
		}
		c.URL, c.Secret = first(c.URL, st.URL), first(c.Secret, st.Secret)
		if *header == "" {
			c.AuthHeader = first(st.AuthHeader, c.AuthHeader)
		}
	}
	noteSecrets(ctx, c.Secret)
	if err := hookURL(c.URL); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	c.HTTP = noRedirects(10 * time.Second) // it carries the hook secret
	_, ev := standin.NewEvent(*typ)
	body := standin.Delivery(standin.DevHookURL, ev)
	r, err := c.Deliver(ctx, body)
	if err != nil {
		return fmt.Errorf("POST %s: %w", redactURL(c.URL), httpCause(err))
	}
	fmt.Fprintf(stdout, "POST %s: a delivery of one %s event\n%s\n", redactURL(c.URL), termSafe(*typ), escapeText(indent(body)))
	fmt.Fprintf(stdout, "answer: %d %s (%v)\n", r.Status, termSafe(strings.TrimSpace(r.Body)), r.Took.Round(time.Millisecond))
	if r.Status != http.StatusOK {
		return fmt.Errorf("the endpoint answered %d: Okta would count this delivery as failed", r.Status)
	}
	return nil
}

func indent(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

// oktaIPRangesURL is where Okta publishes the addresses its cells send from.
const oktaIPRangesURL = "https://s3.amazonaws.com/okta-ip-ranges/ip_ranges.json"

func runOktaIPRanges(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("okta ip-ranges", stderr)
	cell := fs.String("cell", "", "your org's cell, such as us_cell_1 (Okta shows it in the Admin Console footer)")
	file := fs.String("file", "", "read the ranges from this copy of ip_ranges.json instead of "+oktaIPRangesURL)
	help(fs, `usage: hookline okta ip-ranges --cell CELL [--file F] [flags]

Prints the CIDRs Okta publishes for a cell, comma-separated as the
AllowedSourceCidrs parameter takes them:
  sam deploy --parameter-overrides AllowedSourceCidrs=$(hookline okta ip-ranges --cell us_cell_1)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cell == "" {
		return fmt.Errorf("%w: --cell is required", errUsage)
	}
	var data []byte
	var err error
	if *file != "" {
		data, err = os.ReadFile(*file)
	} else {
		data, err = fetch(ctx, oktaIPRangesURL)
	}
	if err != nil {
		return err
	}
	cidrs, err := cellRanges(data, *cell)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, strings.Join(cidrs, ","))
	return nil
}

// cellRanges reads ip_ranges.json ({"<cell>": {"ip_ranges": [CIDR, ...]}})
// and returns the cell's CIDRs.
func cellRanges(data []byte, cell string) ([]string, error) {
	var doc map[string]struct {
		IPRanges []string `json:"ip_ranges"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("ip_ranges.json is not the JSON Okta publishes ({\"<cell>\": {\"ip_ranges\": [...]}}): %v", err)
	}
	r, ok := doc[cell]
	if !ok {
		cells := make([]string, 0, len(doc))
		for c := range doc {
			cells = append(cells, c)
		}
		sort.Strings(cells)
		return nil, fmt.Errorf("%w: no cell %q; Okta publishes %s", errUsage, cell, strings.Join(termSafeAll(cells), ", "))
	}
	if len(r.IPRanges) == 0 {
		return nil, errors.New("cell " + cell + " lists no ranges")
	}
	// The output goes into a deploy command line and a security group: only
	// CIDRs pass.
	for _, c := range r.IPRanges {
		if _, err := netip.ParsePrefix(c); err != nil {
			return nil, fmt.Errorf("cell %s lists %s, which is not a CIDR: is ip_ranges.json Okta's?", cell, termSafe(c))
		}
	}
	return r.IPRanges, nil
}

// fetch reads Okta's published IP ranges. The request carries no
// credential, but its answer becomes AllowedSourceCidrs, the addresses
// allowed to call the receiver: only redirects within the same https host
// are followed, so no other host can choose them.
func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := sameHostRedirects(30 * time.Second).Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s (or give --file): %w", url, httpCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %d (or give --file)", url, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}
