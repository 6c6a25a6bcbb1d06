package main

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// probeResult is the revocation latency probe: per trial and per observing
// node, the time from sending the revocation on node A until that node
// refused the credential.
type probeResult struct {
	fromSent, fromAck hist
	deleteRTT         hist
	trials, timeouts  int
}

// probe logs in on node A, checks B and C accept the session, then revokes
// it on A (DELETE /v1/sessions/{id} with a second session of the same user)
// while B and C poll GET /v1/whoami in tight loops until they answer 401.
func probe(nodes []*proc, email, password string, trials int) (*probeResult, error) {
	if len(nodes) < 3 {
		return nil, fmt.Errorf("probe needs 3 nodes")
	}
	a, observers := nodes[0].url, []string{nodes[1].url, nodes[2].url}
	admin, err := doLogin(a, email, password)
	if err != nil {
		return nil, err
	}
	pr := &probeResult{}
	clients := []*http.Client{newClient(), newClient()}
	ac := newClient()
	whoami := func(c *http.Client, base, cookie string) (int, error) {
		req, _ := http.NewRequest("GET", base+"/v1/whoami", nil)
		req.Header.Set("Cookie", cookie)
		code, _, _, err := send(c, req, false)
		return code, err
	}
	for range trials {
		victim, err := doLogin(a, email, password)
		if err != nil {
			return nil, err
		}
		for k, o := range observers {
			if code, err := whoami(clients[k], o, victim.cookie); err != nil || code != 200 {
				return nil, fmt.Errorf("probe: new session not accepted on %s: %d %v", o, code, err)
			}
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			refused = make([]time.Time, len(observers))
			ready   sync.WaitGroup
			go_     = make(chan struct{})
		)
		ready.Add(len(observers))
		for k, o := range observers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-go_
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					code, err := whoami(clients[k], o, victim.cookie)
					if err == nil && code == 401 {
						mu.Lock()
						refused[k] = time.Now()
						mu.Unlock()
						return
					}
				}
			}()
		}
		ready.Wait()
		close(go_)
		req, _ := http.NewRequest("DELETE", a+"/v1/sessions/"+victim.id, nil)
		req.Header.Set("Cookie", admin.cookie)
		req.Header.Set("X-CSRF-Token", admin.csrf)
		sent := time.Now()
		code, body, _, err := send(ac, req, true)
		acked := time.Now()
		if err != nil || code != 204 {
			wg.Wait()
			return nil, fmt.Errorf("probe: revoke on %s: %d %v %s", a, code, err, body)
		}
		wg.Wait()
		pr.trials++
		pr.deleteRTT.record(acked.Sub(sent))
		for _, t := range refused {
			if t.IsZero() {
				pr.timeouts++
				continue
			}
			pr.fromSent.record(t.Sub(sent))
			pr.fromAck.record(t.Sub(acked))
		}
	}
	return pr, nil
}
