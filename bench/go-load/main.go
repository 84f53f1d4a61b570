// go-load: a small-GET load generator for bench/throughput.ts that none of fastify-spdy's code is in.
//
//	go-load -proto spdy  -port P [-c 1] [-m 100] [-seconds 5] [-warmup 1] [-path /small] [-fragment N] [-tls 1.2|1.3] [-rate R]
//	go-load -proto http1 -port P [-c 50]         [-seconds 5] [-warmup 1] [-path /small] [-fragment N] [-tls 1.2|1.3] [-rate R]
//
// spdy: github.com/moby/spdystream (Debian's golang-github-docker-spdystream-dev), SPDY/3 over plain TCP, c
// connections with m streams in flight on each (m goroutines, each: SYN_STREAM with FIN, wait for SYN_REPLY, read
// the body to its FIN). spdystream writes each frame straight to the socket in pieces (no buffering, TCP_NODELAY
// as Go sets it), so the server sees a SYN_STREAM as several small segments, as from a real client we did not write.
// http1: Go's net/http client, c keep-alive connections, one request in flight on each (HTTP/1.1 has no more).
// -tls 1.2|1.3: over Go's crypto/tls at that version (certificate not verified), ALPN spdy/3 or http/1.1 (RFC
// 7301); the negotiated version and protocol are checked on each connection, so a row cannot silently measure
// another TLS version or stack.
// -fragment N: every write this process makes goes out as N writes, so a request arrives in pieces as spdystream's
// frames do: the like-for-like anchor for the server's cost per read (bench/throughput.ts "fragmented" rows). Over
// plain TCP each piece is its own segment (TCP_NODELAY). With -tls the plaintext is split above crypto/tls, whose
// every Write seals and sends its own record (RFC 8446 section 5.1 / RFC 5246 section 6.2: records are the unit
// the server decrypts and hands up), so each piece is its own TLS record: what spdystream over crypto/tls does.
//
// -rate R: paced instead of as fast as possible (bench/throughput.ts "at equal load" rows): an open-loop schedule
// of R requests per second in all, across every connection and stream. Request i (counted over the whole call,
// warm-up included) may start at t0 + i/R; the loop that takes slot i sleeps until then, or starts at once if the
// slot is already past (it fell behind: the server, or too few loops in flight, could not keep up). Slots are
// taken from one shared counter, so a loop that is free takes the next slot whichever connection it is on. No slot
// at or past the deadline is taken, so a call starts at most ceil(R x (warmup + seconds)) requests. Pacing costs a
// time.Sleep per request (the goroutine's own runtime timer: no goroutine or allocation per request, no busy wait).
// The JSON then adds rate, started (requests started in the measured seconds), late (those of them that started
// more than 1 ms after their slot), lateShare (late / started), meanLateMs and maxLateMs (how long after its slot a
// request started, on average and at worst). Go's timers wake through epoll_wait's millisecond timeout when the
// process is otherwise idle, so a start up to about 1 ms after its slot is the timer's grain, not falling behind:
// a generator that cannot keep up shows a lateShare near 1 and a maxLateMs that grows with the run.
//
// Every response body must be the server's 11-byte "hello world" (spdystream does not expose SYN_REPLY headers, so
// the body is what is checked). Prints one JSON line: requests (after warm-up), all (warm-up included: the server's
// CPU over the whole call is divided by it), seconds, rps, clientCpu (this process's CPU seconds per second), errors
// (and with -rate, the pacing fields above).
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moby/spdystream"
)

var want = []byte("hello world")

// tlsConf is nil for plain TCP; with -tls, crypto/tls pinned to one version.
var tlsConf *tls.Config

// fragment > 1: every write is split into that many writes (see -fragment).
var fragment = 1

// fragConn writes each buffer as `n` smaller writes, in order; Go sets TCP_NODELAY, so each is its own segment.
type fragConn struct {
	net.Conn
	n int
}

func (f fragConn) Write(b []byte) (int, error) {
	size := (len(b) + f.n - 1) / f.n
	if size == 0 {
		return f.Conn.Write(b)
	}
	written := 0
	for written < len(b) {
		end := written + size
		if end > len(b) {
			end = len(b)
		}
		k, err := f.Conn.Write(b[written:end])
		written += k
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// dial opens one connection: TCP, or TLS with `alpn` checked to be what the server chose.
func dial(addr, alpn string) (net.Conn, error) {
	if tlsConf == nil {
		conn, err := net.Dial("tcp", addr)
		if err != nil || fragment <= 1 {
			return conn, err
		}
		return fragConn{conn, fragment}, nil
	}
	conf := tlsConf.Clone()
	conf.NextProtos = []string{alpn}
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	st := conn.ConnectionState()
	if st.NegotiatedProtocol != alpn || st.Version != conf.MinVersion {
		conn.Close()
		return nil, fmt.Errorf("TLS: got version 0x%x ALPN %q, wanted 0x%x %q", st.Version, st.NegotiatedProtocol, conf.MinVersion, alpn)
	}
	if fragment > 1 {
		// Split above TLS, after the handshake: each piece of plaintext becomes its own record.
		return fragConn{conn, fragment}, nil
	}
	return conn, nil
}

type counters struct {
	measuring atomic.Bool
	done      atomic.Int64
	all       atomic.Int64
	errors    atomic.Int64
	// Pacing (-rate), requests started in the measured seconds: how many, how many late by more than lateBy, and
	// the largest and the summed lateness (ns).
	started atomic.Int64
	late    atomic.Int64
	maxLate atomic.Int64
	sumLate atomic.Int64
}

// lateBy: a request that starts more than this after its slot counts as late (-rate).
const lateBy = time.Millisecond

// pacer is the open-loop schedule of -rate: slot i at t0 + i/rate; nil when unpaced.
type pacer struct {
	t0       time.Time
	interval float64 // ns between slots
	deadline time.Time
	next     atomic.Int64
}

// wait takes the next slot, sleeps until it (at once if it is past) and records how late the start was. False:
// the slot is at or past the deadline, so the loop stops.
func (p *pacer) wait(c *counters) bool {
	if p == nil {
		return true
	}
	i := p.next.Add(1) - 1
	slot := p.t0.Add(time.Duration(float64(i) * p.interval))
	if !slot.Before(p.deadline) {
		return false
	}
	behind := time.Since(slot)
	if behind < 0 {
		time.Sleep(-behind)
		behind = time.Since(slot)
	}
	if c.measuring.Load() {
		c.started.Add(1)
		c.sumLate.Add(int64(behind))
		if behind > lateBy {
			c.late.Add(1)
		}
		for {
			m := c.maxLate.Load()
			if int64(behind) <= m || c.maxLate.CompareAndSwap(m, int64(behind)) {
				break
			}
		}
	}
	return true
}

func (c *counters) ok() {
	c.all.Add(1)
	if c.measuring.Load() {
		c.done.Add(1)
	}
}

func (c *counters) fail(err error) {
	if c.errors.Add(1) <= 3 {
		fmt.Fprintln(os.Stderr, "go-load:", err)
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// spdyConn runs m request loops on one SPDY/3 connection until the deadline.
func spdyConn(addr, path string, m int, deadline time.Time, pace *pacer, c *counters, wg *sync.WaitGroup) {
	defer wg.Done()
	tcp, err := dial(addr, "spdy/3")
	if err != nil {
		c.fail(err)
		return
	}
	conn, err := spdystream.NewConnection(tcp, false)
	if err != nil {
		c.fail(err)
		return
	}
	go conn.Serve(spdystream.NoOpStreamHandler)
	defer conn.Close()
	// SPDY/3 section 3.2.1: request headers are lower-case and carry :method, :path, :version, :host, :scheme.
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	headers := http.Header{
		":method": {"GET"}, ":path": {path}, ":version": {"HTTP/1.1"}, ":host": {addr}, ":scheme": {scheme},
		"user-agent": {"go-load (spdystream)"},
	}
	var loops sync.WaitGroup
	for i := 0; i < m; i++ {
		loops.Add(1)
		go func() {
			defer loops.Done()
			for time.Now().Before(deadline) && pace.wait(c) {
				stream, err := conn.CreateStream(headers, nil, true)
				if err != nil {
					c.fail(err)
					return
				}
				if err := stream.WaitTimeout(10 * time.Second); err != nil {
					c.fail(err)
					return
				}
				body, err := io.ReadAll(stream)
				if err != nil || !bytes.Equal(body, want) {
					c.fail(fmt.Errorf("stream %d: body %q, %v", stream.Identifier(), body, err))
					return
				}
				c.ok()
			}
		}()
	}
	loops.Wait()
}

// http1Conn runs one keep-alive connection's request loop until the deadline.
func http1Conn(client *http.Client, url string, deadline time.Time, pace *pacer, c *counters, wg *sync.WaitGroup) {
	defer wg.Done()
	for time.Now().Before(deadline) && pace.wait(c) {
		res, err := client.Get(url)
		if err != nil {
			c.fail(err)
			return
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || !bytes.Equal(body, want) {
			c.fail(fmt.Errorf("status %d, body %q, %v", res.StatusCode, body, err))
			return
		}
		c.ok()
	}
}

func main() {
	proto := flag.String("proto", "spdy", "spdy or http1")
	port := flag.Int("port", 0, "server port on 127.0.0.1")
	conns := flag.Int("c", 1, "connections")
	streams := flag.Int("m", 100, "streams in flight per SPDY connection")
	seconds := flag.Float64("seconds", 5, "measured seconds")
	warmup := flag.Float64("warmup", 1, "seconds before counting")
	path := flag.String("path", "/small", "path to GET")
	tlsVersion := flag.String("tls", "", "1.2 or 1.3: over crypto/tls at that version, ALPN (default: plain TCP)")
	flag.IntVar(&fragment, "fragment", 1, "write every buffer as this many writes (TCP segments; with -tls, TLS records)")
	rate := flag.Float64("rate", 0, "requests per second in all, paced (0: as fast as the loops go)")
	flag.Parse()
	if *rate < 0 {
		fmt.Fprintln(os.Stderr, "go-load: -rate must be >= 0")
		os.Exit(2)
	}
	switch *tlsVersion {
	case "":
	case "1.2":
		tlsConf = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}
	case "1.3":
		tlsConf = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13}
	default:
		fmt.Fprintln(os.Stderr, "go-load: -tls 1.2 or 1.3")
		os.Exit(2)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", *port)
	var c counters
	start := time.Now()
	warm := start.Add(time.Duration(*warmup * float64(time.Second)))
	deadline := warm.Add(time.Duration(*seconds * float64(time.Second)))
	var pace *pacer
	if *rate > 0 {
		pace = &pacer{t0: start, interval: 1e9 / *rate, deadline: deadline}
	}
	cpu0 := cpuSeconds()
	if *warmup <= 0 {
		// No warm-up: every request is measured, the first slots included.
		c.measuring.Store(true)
	} else {
		go func() {
			time.Sleep(time.Until(warm))
			cpu0 = cpuSeconds()
			c.measuring.Store(true)
		}()
	}
	var wg sync.WaitGroup
	switch *proto {
	case "spdy":
		for i := 0; i < *conns; i++ {
			wg.Add(1)
			go spdyConn(addr, *path, *streams, deadline, pace, &c, &wg)
		}
	case "http1":
		transport := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
		scheme := "http://"
		if fragment > 1 {
			transport.Dial = func(_, a string) (net.Conn, error) { return dial(a, "") }
		}
		if tlsConf != nil {
			scheme = "https://"
			transport.DialTLS = func(_, a string) (net.Conn, error) { return dial(a, "http/1.1") }
		}
		client := &http.Client{Transport: transport}
		for i := 0; i < *conns; i++ {
			wg.Add(1)
			go http1Conn(client, scheme+addr+*path, deadline, pace, &c, &wg)
		}
	default:
		fmt.Fprintln(os.Stderr, "go-load: -proto spdy or http1")
		os.Exit(2)
	}
	wg.Wait()
	elapsed := time.Since(warm).Seconds()
	result := map[string]any{
		"requests": c.done.Load(), "all": c.all.Load(), "seconds": elapsed, "rps": float64(c.done.Load()) / elapsed,
		"clientCpu": (cpuSeconds() - cpu0) / elapsed, "errors": c.errors.Load(),
	}
	if pace != nil {
		started, late := c.started.Load(), c.late.Load()
		share, mean := 0.0, 0.0
		if started > 0 {
			share = float64(late) / float64(started)
			mean = float64(c.sumLate.Load()) / float64(started) / 1e6
		}
		result["rate"] = *rate
		result["started"] = started
		result["late"] = late
		result["lateShare"] = share
		result["meanLateMs"] = mean
		result["maxLateMs"] = float64(c.maxLate.Load()) / 1e6
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}
