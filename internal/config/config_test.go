package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnv(t *testing.T) {
	t.Setenv("SET", " value ")
	t.Setenv("BLANK", "  ")
	t.Setenv("SIZE", "2048")
	t.Setenv("BAD_SIZE", "-1")
	t.Setenv("TTL", "90s")
	t.Setenv("BAD_TTL", "soon")
	t.Setenv("DAYS", "120d")
	t.Setenv("BAD_DAYS", "1.5d")
	t.Setenv("COUNT", "0")
	t.Setenv("BAD_COUNT", "-2")

	var env Env
	if got := env.Required("SET"); got != "value" {
		t.Errorf("Required(SET) = %q", got)
	}
	if got := env.Optional("UNSET_X", "def"); got != "def" {
		t.Errorf("Optional default = %q", got)
	}
	if got := env.Bytes("SIZE", 1); got != 2048 {
		t.Errorf("Bytes = %d", got)
	}
	if got := env.Duration("TTL", time.Minute); got != 90*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := env.Duration("DAYS", time.Minute); got != 120*24*time.Hour {
		t.Errorf("Duration(days) = %v", got)
	}
	if got := env.Count("COUNT", 5); got != 0 {
		t.Errorf("Count(0) = %d", got)
	}
	if got := env.Count("UNSET_COUNT", 5); got != 5 {
		t.Errorf("Count default = %d", got)
	}
	if err := env.Err(); err != nil {
		t.Fatalf("unexpected error: %v", err)
	}

	env.Required("BLANK")
	env.Required("MISSING_X")
	env.Bytes("BAD_SIZE", 1)
	env.Duration("BAD_TTL", time.Minute)
	env.Duration("BAD_DAYS", time.Minute)
	env.Count("BAD_COUNT", 1)
	err := env.Err()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"BLANK", "MISSING_X", "BAD_SIZE", "BAD_TTL", "BAD_DAYS", "BAD_COUNT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestEnvReadsThroughGetenv(t *testing.T) {
	t.Setenv("QUEUE_URL", "from-process")
	var read []string
	env := Env{Getenv: func(name string) string {
		read = append(read, name)
		return map[string]string{"QUEUE_URL": "from-getenv"}[name]
	}}
	if got := env.Required("QUEUE_URL"); got != "from-getenv" {
		t.Errorf("Required(QUEUE_URL) = %q, want the Getenv value", got)
	}
	env.Duration("TTL", time.Minute)
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(read, ",") != "QUEUE_URL,TTL" {
		t.Errorf("Getenv saw %v, want QUEUE_URL, TTL", read)
	}
}

func TestList(t *testing.T) {
	env := Env{Getenv: func(name string) string {
		return map[string]string{"IDS": " 00u1, ,0oa2 ,", "BLANK": "  "}[name]
	}}
	if got := env.List("IDS"); strings.Join(got, "|") != "00u1|0oa2" {
		t.Errorf("List(IDS) = %q", got)
	}
	if got := env.List("BLANK"); len(got) != 0 {
		t.Errorf("List(BLANK) = %q, want none", got)
	}
}
