package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// op sends one request to base on c and returns the status code. It is the
// per-connection state machine of a scenario (one op per connection).
type op func(c *http.Client, base string) (int, error)

// result is one row of the table.
type result struct {
	setup, name string
	conns       int
	reqs        uint64
	non2xx      uint64
	errs        uint64
	elapsed     time.Duration
	h           hist
	cpuPerReq   time.Duration // -1: unknown
	allocs      float64       // -1: unknown
}

func (r *result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.reqs) / r.elapsed.Seconds()
}

func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        8,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
		Timeout: 30 * time.Second,
	}
}

// drive runs conns connections against urls (round-robin per request, each
// connection starting at a different node) for dur, after one unmeasured
// request per node per connection that opens the keep-alive connections.
// procs are the server processes whose CPU time is counted; withMetrics
// reads their /metrics for allocations.
func drive(setup, name string, urls []string, procs []*proc, withMetrics bool, conns int, dur time.Duration, mk func(conn int) op) *result {
	res := &result{setup: setup, name: name, conns: conns, cpuPerReq: -1, allocs: -1}
	type worker struct {
		h            hist
		n, bad, errs uint64
	}
	workers := make([]*worker, conns)
	ops := make([]op, conns)
	clients := make([]*http.Client, conns)
	for i := range conns {
		workers[i] = &worker{}
		ops[i] = mk(i)
		clients[i] = newClient()
	}
	// Warm-up: open every connection.
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range urls {
				_, _ = ops[i](clients[i], urls[(i+k)%len(urls)])
			}
		}()
	}
	wg.Wait()

	var cpu0 int64
	for _, p := range procs {
		cpu0 += cpuTicks(p.pid())
	}
	m0 := 0.0
	if withMetrics {
		for _, p := range procs {
			m0 += mallocs(p.url)
		}
	}
	var stop atomic.Bool
	startGate := make(chan struct{})
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, c, o := workers[i], clients[i], ops[i]
			<-startGate
			for k := i; !stop.Load(); k++ {
				t0 := time.Now()
				code, err := o(c, urls[k%len(urls)])
				w.h.record(time.Since(t0))
				w.n++
				switch {
				case err != nil:
					w.errs++
				case code < 200 || code > 299:
					w.bad++
				}
			}
		}()
	}
	t0 := time.Now()
	close(startGate)
	time.Sleep(dur)
	stop.Store(true)
	wg.Wait()
	res.elapsed = time.Since(t0)
	var cpu1 int64
	for _, p := range procs {
		cpu1 += cpuTicks(p.pid())
	}
	m1 := 0.0
	if withMetrics {
		for _, p := range procs {
			m1 += mallocs(p.url)
		}
	}
	for _, w := range workers {
		res.h.merge(&w.h)
		res.reqs += w.n
		res.non2xx += w.bad
		res.errs += w.errs
	}
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	if res.reqs > 0 && len(procs) > 0 {
		res.cpuPerReq = time.Duration(float64(cpu1-cpu0) * float64(time.Second) / userHZ / float64(res.reqs))
		if withMetrics && m0 >= 0 && m1 >= 0 {
			res.allocs = (m1 - m0) / float64(res.reqs)
		}
	}
	return res
}

// send does req and drains the body (keep-alive reuse); with keep, it
// returns the body too.
func send(c *http.Client, req *http.Request, keep bool) (int, []byte, http.Header, error) {
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	if keep {
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, b, res.Header, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil, res.Header, err
}

// getOp is a GET of path with fixed headers.
func getOp(path string, hdr map[string]string) func(int) op {
	return func(int) op {
		return func(c *http.Client, base string) (int, error) {
			req, err := http.NewRequest("GET", base+path, nil)
			if err != nil {
				return 0, err
			}
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			code, _, _, err := send(c, req, false)
			return code, err
		}
	}
}

// login is a logged-in cookie session.
type login struct {
	cookie, csrf, id string
}

var setupClient = &http.Client{Timeout: 60 * time.Second}

func doLogin(base, email, password string) (login, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest("POST", base+"/v1/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := setupClient.Do(req)
	if err != nil {
		return login{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return login{}, fmt.Errorf("login %s at %s: %d %s", email, base, res.StatusCode, b)
	}
	var m struct {
		CSRF    string `json:"csrf_token"`
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return login{}, fmt.Errorf("login: %v", err)
	}
	var parts []string
	for _, ck := range res.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) == 0 {
		return login{}, fmt.Errorf("login at %s: no cookie", base)
	}
	return login{cookie: strings.Join(parts, "; "), csrf: m.CSRF, id: m.Session.ID}, nil
}

type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

func passwordGrant(base, email, password string) (tokens, error) {
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}
	res, err := setupClient.PostForm(base+"/v1/token", form)
	if err != nil {
		return tokens{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return tokens{}, fmt.Errorf("password grant at %s: %d %s", base, res.StatusCode, b)
	}
	var t tokens
	if err := json.Unmarshal(b, &t); err != nil || t.Access == "" || t.Refresh == "" {
		return tokens{}, fmt.Errorf("password grant: bad answer %s", b)
	}
	return t, nil
}

// refreshOp: each connection rotates its own refresh token family; a
// failed rotation (counted) starts a new family with a password grant.
func refreshOp(base0, email, password string, chains []string) func(int) op {
	return func(i int) op {
		rt := chains[i]
		return func(c *http.Client, base string) (int, error) {
			req, err := http.NewRequest("POST", base+"/v1/token", strings.NewReader("grant_type=refresh_token&refresh_token="+url.QueryEscape(rt)))
			if err != nil {
				return 0, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			code, b, _, err := send(c, req, true)
			if err == nil && code == 200 {
				var t tokens
				if json.Unmarshal(b, &t) == nil && t.Refresh != "" {
					rt = t.Refresh
					return code, nil
				}
				return 0, fmt.Errorf("refresh: no refresh_token in %s", b)
			}
			if t, gerr := passwordGrant(base0, email, password); gerr == nil {
				rt = t.Refresh
			}
			return code, err
		}
	}
}

// loginOp: POST /v1/login, a new session each time.
func loginOp(email, password string) func(int) op {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return func(int) op {
		return func(c *http.Client, base string) (int, error) {
			req, err := http.NewRequest("POST", base+"/v1/login", bytes.NewReader(body))
			if err != nil {
				return 0, err
			}
			req.Header.Set("Content-Type", "application/json")
			code, _, _, err := send(c, req, false)
			return code, err
		}
	}
}

// patchOp: PATCH /v1/session/data, one session per connection.
func patchOp(sessions []login) func(int) op {
	return func(i int) op {
		s := sessions[i]
		n := 0
		return func(c *http.Client, base string) (int, error) {
			n++
			req, err := http.NewRequest("PATCH", base+"/v1/session/data", strings.NewReader(fmt.Sprintf(`{"n":%d,"conn":%d}`, n, i)))
			if err != nil {
				return 0, err
			}
			req.Header.Set("Content-Type", "application/merge-patch+json")
			req.Header.Set("Cookie", s.cookie)
			req.Header.Set("X-CSRF-Token", s.csrf)
			code, _, h, err := send(c, req, false)
			if t := h.Get("X-CSRF-Token"); t != "" {
				s.csrf = t
			}
			return code, err
		}
	}
}
