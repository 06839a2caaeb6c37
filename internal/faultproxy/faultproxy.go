// Package faultproxy is a loopback TCP proxy that puts faults between a
// client and a real server, for tests and benchmarks: added latency, a
// server that hangs, a server that is down.
//
// It works at the TCP level, so the client and the server (an SDK and kumo,
// say) run unchanged: point the client at URL() instead of the server.
package faultproxy

import (
	"net"
	"sync"
	"time"
)

// Mode is what the proxy does with the bytes it receives.
type Mode int

const (
	// Pass forwards everything (after the latency, if any).
	Pass Mode = iota
	// Hang accepts connections and reads requests, but forwards nothing
	// either way until the mode changes: a server that stopped answering.
	// Connections already open hang too.
	Hang
	// Down closes every connection, open or new, as soon as it has one: a
	// server that is gone.
	Down
)

// Proxy forwards 127.0.0.1:<port> to a target address.
type Proxy struct {
	Addr string // host:port the proxy listens on

	target string
	ln     net.Listener

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	mode    Mode
	latency time.Duration
	conns   map[net.Conn]struct{}
	closed  bool
	accepts int

	wg sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, changed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// URL is http://<Addr>, for an AWS_ENDPOINT_URL_<SERVICE> variable.
func (p *Proxy) URL() string { return "http://" + p.Addr }

// SetMode switches the fault; it applies to open connections too.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	p.notifyLocked()
	if m == Down {
		for c := range p.conns {
			c.Close()
		}
	}
}

// SetLatency delays every chunk sent from the client to the server by d,
// so each request/response exchange takes d longer. Chunks keep their order;
// throughput is not limited.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
	p.notifyLocked()
}

// Accepted counts the connections accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

// Close stops listening, closes every connection and waits for the
// forwarding goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.notifyLocked()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) state() (Mode, time.Duration, bool, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.latency, p.closed, p.changed
}

// track registers c; it reports false (and closes c) when the proxy is
// closed or down.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == Down {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepts++
		p.mu.Unlock()
		if !p.track(client) {
			continue
		}
		p.wg.Add(1)
		go p.serve(client)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	go func() { p.pump(server, client, true); done <- struct{}{} }()
	go func() { p.pump(client, server, false); done <- struct{}{} }()
	<-done
	// One side ended: end the other, as a plain TCP relay would.
	client.Close()
	server.Close()
	<-done
}

// chunk is data read from one side, due to be written at due.
type chunk struct {
	data []byte
	due  time.Time
}

// pump copies src to dst. Reading and writing are split so that latency
// delays each chunk from the time it was read, not the previous write.
func (p *Proxy) pump(dst, src net.Conn, delayed bool) {
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				_, latency, _, _ := p.state()
				c := chunk{data: append([]byte(nil), buf[:n]...), due: time.Now()}
				if delayed {
					c.due = c.due.Add(latency)
				}
				queue <- c
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		if !p.waitToForward(c.due) {
			dst.Close()
			src.Close()
			for range queue { // let the reader finish
			}
			return
		}
		if _, err := dst.Write(c.data); err != nil {
			src.Close()
			for range queue {
			}
			return
		}
	}
	// src reached EOF: pass the half-close on where possible.
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// waitToForward blocks until a chunk due at due may be written: after the
// latency, and never while the proxy hangs. It reports false when the
// connection must be dropped instead.
func (p *Proxy) waitToForward(due time.Time) bool {
	for {
		mode, _, closed, changed := p.state()
		switch {
		case closed || mode == Down:
			return false
		case mode == Hang:
			<-changed
			continue
		}
		wait := time.Until(due)
		if wait <= 0 {
			return true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			return true
		case <-changed:
			t.Stop()
		}
	}
}
