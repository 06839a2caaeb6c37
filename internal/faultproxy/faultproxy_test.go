package faultproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo is a line echo server on loopback.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line and waits up to wait for it to come back.
func roundTrip(c net.Conn, wait time.Duration) (time.Duration, error) {
	start := time.Now()
	c.SetDeadline(start.Add(wait))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return 0, err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return time.Since(start), err
}

func TestModes(t *testing.T) {
	p, err := Start(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if _, err := roundTrip(c, time.Second); err != nil {
		t.Fatalf("pass: %v", err)
	}
	p.SetLatency(150 * time.Millisecond)
	if took, err := roundTrip(c, time.Second); err != nil || took < 150*time.Millisecond {
		t.Fatalf("latency: %v after %v, want at least 150ms", err, took)
	}
	p.SetLatency(0)
	p.SetMode(Hang)
	if _, err := roundTrip(c, 200*time.Millisecond); err == nil {
		t.Fatal("hang: the request was answered")
	}
	p.SetMode(Down)
	c2, err := net.Dial("tcp", p.Addr)
	if err == nil {
		if _, err := roundTrip(c2, time.Second); err == nil {
			t.Fatal("down: a new connection was answered")
		}
		c2.Close()
	}
	p.SetMode(Pass)
	c3, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := roundTrip(c3, time.Second); err != nil {
		t.Fatalf("pass again: %v", err)
	}
	if p.Accepted() < 3 {
		t.Fatalf("accepted %d connections, want 3", p.Accepted())
	}
}
