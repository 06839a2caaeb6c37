package main

import (
	"cmp"
	"flag"
	"path/filepath"
	"strings"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/samtemplate"
)

// defaultAuthHeader is the receiver's AUTH_HEADER when the template does not
// set it (functions/receiver).
const defaultAuthHeader = "Authorization"

// addAuthHeaderFlag adds --auth-header: the header Okta sends the hook
// secret in, which must be the one the receiver reads.
func addAuthHeaderFlag(fs *flag.FlagSet) *string {
	return fs.String("auth-header", "", "header Okta sends the hook secret in: the receiver's AUTH_HEADER (default: as template.yaml sets it, else "+defaultAuthHeader+")")
}

// authHeaderOr is flagValue, else the receiver's AUTH_HEADER in the
// repository's template.yaml (the template the stack is deployed from),
// else Authorization.
func authHeaderOr(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	root, err := devstack.RepoRoot(".")
	if err != nil {
		return defaultAuthHeader
	}
	return templateAuthHeader(filepath.Join(root, "template.yaml"))
}

// templateAuthHeader reads the receiver's AUTH_HEADER from a SAM template
// (a parameter's default if it refers to one); Authorization when the
// template cannot be read or does not set it.
func templateAuthHeader(path string) string {
	t, err := samtemplate.Load(path)
	if err != nil {
		return defaultAuthHeader
	}
	v, ok := t.FunctionEnv("ReceiverFunction")["AUTH_HEADER"]
	if !ok {
		return defaultAuthHeader
	}
	s, err := t.Str(v)
	if err != nil {
		return defaultAuthHeader
	}
	return cmp.Or(strings.TrimSpace(s), defaultAuthHeader)
}

// envValue is NAME's value in a function's environment (NAME=value pairs).
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
