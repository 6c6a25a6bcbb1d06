package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/testenv"
)

// relay is a real SMTP server (emersion/go-smtp) on a loopback port that
// keeps the text body of every message it accepts, by recipient.
type relay struct {
	srv *smtp.Server
	mu  sync.Mutex
	got []delivered
}

type delivered struct {
	to, subject, text, messageID string
}

// startRelay listens on addr ("127.0.0.1:0" for a free port).
func startRelay(t *testing.T, addr string) (*relay, string) {
	t.Helper()
	r := &relay{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &relaySession{r: r}, nil }))
	s.Domain, s.AllowInsecureAuth = "relay.test", true
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("relay listen: %v", err)
	}
	r.srv = s
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return r, l.Addr().String()
}

type relaySession struct {
	r  *relay
	to []string
}

func (s *relaySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *relaySession) Reset()        { s.to = nil }
func (s *relaySession) Logout() error { return nil }
func (s *relaySession) Data(rd io.Reader) error {
	m, err := mail.ReadMessage(rd)
	if err != nil {
		return err
	}
	text, err := textPart(m.Header.Get("Content-Type"), m.Body)
	if err != nil {
		return err
	}
	dec := new(mime.WordDecoder)
	subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for _, to := range s.to {
		s.r.got = append(s.r.got, delivered{to: to, subject: subj, text: text, messageID: m.Header.Get("Message-Id")})
	}
	return nil
}

// textPart is the decoded text/plain part of a (possibly nested) MIME body.
func textPart(ctype string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := io.ReadAll(body)
		return string(b), err
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", err
		}
		pt := p.Header.Get("Content-Type")
		if strings.HasPrefix(pt, "text/plain") || strings.HasPrefix(pt, "multipart/") {
			return textPart(pt, p)
		}
	}
}

// to returns the messages delivered to addr so far.
func (r *relay) to(addr string) []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivered
	for _, d := range r.got {
		if d.to == addr {
			out = append(out, d)
		}
	}
	return out
}

// await waits until addr has received n messages and returns them; it
// fails the test when they have not arrived within 30 seconds.
func (r *relay) await(t *testing.T, addr string, n int) []delivered {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := r.to(addr); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s received %d messages, want %d", addr, len(r.to(addr)), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var linkRE = regexp.MustCompile(`https?://\S+[?&]token=([A-Za-z0-9_-]+)`)

// link is the single link with a token in d, and the token.
func link(t *testing.T, d delivered) (string, string) {
	t.Helper()
	m := linkRE.FindAllStringSubmatch(d.text, -1)
	if len(m) != 1 {
		t.Fatalf("message %q has %d token links:\n%s", d.subject, len(m), d.text)
	}
	return m[0][0], m[0][1]
}

// lifeServer is a sessiond built by app.Build on a real listener, mailing
// through a relay on relayAddr.
type lifeServer struct {
	*httptest.Server
	app  *app.App
	once sync.Once
}

func startLife(t *testing.T, relayAddr string, flags map[string]string) *lifeServer {
	t.Helper()
	return startLifeWith(t, relayAddr, flags, nil)
}

// startLifeWith is startLife with prep applied to the App before it serves.
func startLifeWith(t *testing.T, relayAddr string, flags map[string]string, prep func(*app.App)) *lifeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(relayAddr)
	all := map[string]string{
		"base_url": "http://" + ln.Addr().String(), "mail.smtp.host": host, "mail.smtp.port": port,
		"mail.smtp.tls": "none", "mail.from": "sessiond <no-reply@example.com>", "signup.enabled": "true",
		"signup.require_verified_email": "true",
		"password.memory_kib":           "19456", "password.time": "2",
	}
	for k, v := range flags {
		all[k] = v
	}
	if _, ok := flags["data"]; !ok {
		all["data"] = t.TempDir()
	}
	cfg, err := config.Load("", nil, all)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.Build(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if prep != nil {
		prep(a)
	}
	srv := httptest.NewUnstartedServer(a.Server)
	srv.Listener = ln
	srv.Start()
	s := &lifeServer{Server: srv, app: a}
	t.Cleanup(s.stop)
	return s
}

func (s *lifeServer) stop() {
	s.once.Do(func() {
		s.Close()
		_ = s.app.Close()
	})
}

// answer is a decoded response.
type answer struct {
	status int
	body   map[string]any
	raw    string
}

// call sends a JSON (or, with a string body, form) request.
func call(t *testing.T, c *http.Client, method, u string, body any, header ...string) answer {
	t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func want(t *testing.T, what string, a answer, status int, code string) {
	t.Helper()
	if a.status != status || (code != "" && a.body["error"] != code) {
		t.Fatalf("%s: %d %s; want %d %s", what, a.status, a.raw, status, code)
	}
}

// signUpAndVerify signs email up, follows the verification link of the
// mail the relay received (the confirm page first, which must not spend
// it) and returns the verified user's login answer.
func signUpAndVerify(t *testing.T, s *lifeServer, r *relay, email, password string) {
	t.Helper()
	c := jarClient(t)
	want(t, "sign-up", call(t, c, "POST", s.URL+"/v1/signup", map[string]string{"email": email, "password": password}), http.StatusAccepted, "")
	lnk, tok := link(t, r.await(t, email, 1)[0])
	if !strings.HasPrefix(lnk, s.URL+"/v1/email/verify?token=") {
		t.Fatalf("verification link %q is not on %s", lnk, s.URL)
	}
	// Unverified: the right password is refused with a clear error.
	want(t, "login before verification", call(t, c, "POST", s.URL+"/v1/login", map[string]string{"email": email, "password": password}),
		http.StatusForbidden, "email_not_verified")
	grant := call(t, http.DefaultClient, "POST", s.URL+"/v1/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}})
	want(t, "password grant before verification", grant, http.StatusBadRequest, "invalid_grant")
	browser := jarClient(t)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(call(t, browser, "GET", s.URL+"/login", nil).raw)
	if m == nil {
		t.Fatal("login page without csrf_token")
	}
	form := call(t, browser, "POST", s.URL+"/login", url.Values{"email": {email}, "password": {password}, "csrf_token": {m[1]}})
	if form.status != http.StatusForbidden || !strings.Contains(form.raw, "not verified") {
		t.Fatalf("login page before verification: %d %s", form.status, form.raw)
	}
	// A mail scanner fetches the link: a page, nothing spent.
	for range 2 {
		page := call(t, c, "GET", lnk, nil)
		if page.status != http.StatusOK || !strings.Contains(page.raw, `name="token" value="`+tok+`"`) {
			t.Fatalf("confirm page: %d %s", page.status, page.raw)
		}
	}
	v := call(t, c, "POST", s.URL+"/v1/email/verify", url.Values{"token": {tok}})
	if v.status != http.StatusOK || !strings.Contains(v.raw, "Address confirmed") {
		t.Fatalf("confirm form: %d %s", v.status, v.raw)
	}
	want(t, "used verification link", call(t, c, "POST", s.URL+"/v1/email/verify", map[string]string{"token": tok}), http.StatusBadRequest, "invalid_token")
	in := call(t, c, "POST", s.URL+"/v1/login", map[string]string{"email": email, "password": password})
	want(t, "login after verification", in, http.StatusOK, "")
	if u := in.body["user"].(map[string]any); u["email_verified"] != true {
		t.Fatalf("user after verification: %v", u)
	}
}

// TestLifecycle_SignupAndVerify: a visitor signs up, receives the mail from
// a real SMTP relay, confirms through the page's form and signs in; an
// unverified user cannot sign in (signup.require_verified_email); an
// address already registered gets the same answer, its owner a mail, and no
// second account. On the embedded store and on PostgreSQL.
func TestLifecycle_SignupAndVerify(t *testing.T) {
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	stores := map[string]func(t *testing.T) map[string]string{
		"sqlite": func(*testing.T) map[string]string { return nil },
		"postgres": func(t *testing.T) map[string]string {
			return map[string]string{"store.users": testenv.Postgres(t), "token.key_encryption_key": base64.StdEncoding.EncodeToString(kek)}
		},
	}
	for name, flags := range stores {
		t.Run(name, func(t *testing.T) {
			r, addr := startRelay(t, "127.0.0.1:0")
			f := flags(t)
			if f == nil {
				f = map[string]string{}
			}
			s := startLife(t, addr, f)
			signUpAndVerify(t, s, r, "ada@example.com", "correct horse battery")

			c := jarClient(t)
			again := call(t, c, "POST", s.URL+"/v1/signup", map[string]string{"email": "Ada@Example.com", "password": "another long password"})
			fresh := call(t, c, "POST", s.URL+"/v1/signup", map[string]string{"email": "bob@example.com", "password": "another long password"})
			if again.status != http.StatusAccepted || again.raw != fresh.raw {
				t.Fatalf("taken address answered %d %s; a new one %d %s", again.status, again.raw, fresh.status, fresh.raw)
			}
			got := r.await(t, "ada@example.com", 2)
			if strings.Contains(got[1].text, "token=") || !strings.Contains(strings.ToLower(got[1].subject+got[1].text), "already") {
				t.Errorf("mail to the owner of a taken address: %q\n%s", got[1].subject, got[1].text)
			}
			want(t, "login with the second sign-up's password",
				call(t, c, "POST", s.URL+"/v1/login", map[string]string{"email": "ada@example.com", "password": "another long password"}),
				http.StatusUnauthorized, "invalid_credentials")
		})
	}
}

// TestLifecycle_RecoveryEndsEverything: recovery answers known and unknown
// addresses alike; the mailed link sets a new password, ends the old
// cookie session, refresh token and access token, and signs the person in;
// the used link and a link from before the change are refused.
func TestLifecycle_RecoveryEndsEverything(t *testing.T) {
	r, addr := startRelay(t, "127.0.0.1:0")
	s := startLife(t, addr, map[string]string{"ratelimit.recovery_per_email": "10/1h"})
	const email, oldPW, newPW = "ada@example.com", "correct horse battery", "new staple battery horse"
	signUpAndVerify(t, s, r, email, oldPW)

	old := jarClient(t)
	want(t, "old login", call(t, old, "POST", s.URL+"/v1/login", map[string]string{"email": email, "password": oldPW}), http.StatusOK, "")
	tok := call(t, http.DefaultClient, "POST", s.URL+"/v1/token",
		url.Values{"grant_type": {"password"}, "username": {email}, "password": {oldPW}})
	want(t, "password grant", tok, http.StatusOK, "")
	access, refresh := tok.body["access_token"].(string), tok.body["refresh_token"].(string)

	c := jarClient(t)
	known := call(t, c, "POST", s.URL+"/v1/recovery", map[string]string{"email": email})
	unknown := call(t, c, "POST", s.URL+"/v1/recovery", map[string]string{"email": "nobody@example.com"})
	malformed := call(t, c, "POST", s.URL+"/v1/recovery", map[string]string{"email": "not an address"})
	if known.status != http.StatusAccepted || known.raw != unknown.raw || known.raw != malformed.raw {
		t.Fatalf("recovery answers differ: known %d %s, unknown %d %s, malformed %d %s",
			known.status, known.raw, unknown.status, unknown.raw, malformed.status, malformed.raw)
	}
	want(t, "second recovery", call(t, c, "POST", s.URL+"/v1/recovery", map[string]string{"email": email}), http.StatusAccepted, "")
	mails := r.await(t, email, 3) // verification, two recoveries
	_, first := link(t, mails[1])
	lnk, second := link(t, mails[2])
	if !strings.HasPrefix(lnk, s.URL+"/recovery?token=") {
		t.Errorf("recovery link %q", lnk)
	}

	want(t, "weak new password", call(t, c, "POST", s.URL+"/v1/recovery/complete", map[string]string{"token": first, "new_password": "short"}),
		http.StatusBadRequest, "invalid_request")
	done := call(t, c, "POST", s.URL+"/v1/recovery/complete", map[string]string{"token": first, "new_password": newPW})
	want(t, "complete recovery", done, http.StatusOK, "")
	want(t, "fresh session", call(t, c, "GET", s.URL+"/v1/whoami", nil), http.StatusOK, "")

	want(t, "old cookie", call(t, old, "GET", s.URL+"/v1/whoami", nil), http.StatusUnauthorized, "unauthorized")
	want(t, "old access token", call(t, http.DefaultClient, "GET", s.URL+"/v1/whoami", nil, "Authorization", "Bearer "+access),
		http.StatusUnauthorized, "unauthorized")
	ref := call(t, http.DefaultClient, "POST", s.URL+"/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if ref.status != http.StatusBadRequest || ref.body["error"] != "invalid_grant" {
		t.Fatalf("old refresh token: %d %s", ref.status, ref.raw)
	}
	want(t, "used link", call(t, c, "POST", s.URL+"/v1/recovery/complete", map[string]string{"token": first, "new_password": "yet another passphrase"}),
		http.StatusBadRequest, "invalid_token")
	want(t, "link from before the change", call(t, c, "POST", s.URL+"/v1/recovery/complete", map[string]string{"token": second, "new_password": "yet another passphrase"}),
		http.StatusBadRequest, "invalid_token")
	want(t, "old password", call(t, jarClient(t), "POST", s.URL+"/v1/login", map[string]string{"email": email, "password": oldPW}),
		http.StatusUnauthorized, "invalid_credentials")
	want(t, "new password", call(t, jarClient(t), "POST", s.URL+"/v1/login", map[string]string{"email": email, "password": newPW}), http.StatusOK, "")
	notice := r.await(t, email, 4)[3]
	if strings.Contains(notice.text, "token=") {
		t.Errorf("password-changed notice carries a link with a token:\n%s", notice.text)
	}
	if n := len(r.to("nobody@example.com")); n != 0 {
		t.Errorf("unknown address got %d mails", n)
	}
}

// TestLifecycle_OutboxSurvivesRelayOutageAndRestart: a recovery mail queued
// while the relay is down, with sessiond restarted meanwhile, is delivered
// once when the relay is back.
func TestLifecycle_OutboxSurvivesRelayOutageAndRestart(t *testing.T) {
	up, upAddr := startRelay(t, "127.0.0.1:0")
	data := t.TempDir()
	flags := map[string]string{"data": data, "mail.retry_min_backoff": "1s", "mail.retry_max_backoff": "2s"}
	s := startLife(t, upAddr, flags)
	signUpAndVerify(t, s, up, "ada@example.com", "correct horse battery")
	s.stop()
	_ = up.srv.Close()

	// The relay's address, now with nothing listening.
	s = startLife(t, upAddr, flags)
	want(t, "recovery", call(t, jarClient(t), "POST", s.URL+"/v1/recovery", map[string]string{"email": "ada@example.com"}), http.StatusAccepted, "")
	deadline := time.Now().Add(30 * time.Second)
	for s.app.Mailer.Dispatcher.Metrics.Retried.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the recovery mail was never tried")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop() // restart while the mail waits in the outbox

	back, _ := startRelay(t, upAddr)
	s = startLife(t, upAddr, flags)
	got := back.await(t, "ada@example.com", 1)
	lnk, _ := link(t, got[0])
	if !strings.Contains(lnk, "/recovery?token=") {
		t.Fatalf("delivered %q, not the recovery mail", got[0].subject)
	}
	// Delivered once: the outbox is empty, and nothing more arrives
	// while the dispatcher runs on.
	deadline = time.Now().Add(30 * time.Second)
	for {
		n, err := s.app.Mailer.Dispatcher.QueueDepth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails still queued after delivery", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.app.Mailer.Dispatcher.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := back.to("ada@example.com"); len(got) != 1 {
		t.Errorf("delivered %d times", len(got))
	}
	metrics := call(t, http.DefaultClient, "GET", s.URL+"/metrics", nil).raw
	for _, line := range []string{"sessiond_mail_sent_total 1", "sessiond_mail_queue 0", "sessiond_mail_failed_total 0"} {
		if !strings.Contains(metrics, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if up.to("ada@example.com")[0].messageID == got[0].messageID {
		t.Error("the verification and the recovery mail share a Message-ID")
	}
}

// TestLifecycle_PerIPLimitsUnderBurst: of a parallel burst of recovery and
// sign-up requests from one IP, exactly the configured number is accepted;
// the rest get 429 with Retry-After.
func TestLifecycle_PerIPLimitsUnderBurst(t *testing.T) {
	_, addr := startRelay(t, "127.0.0.1:0")
	s := startLife(t, addr, map[string]string{"ratelimit.recovery_per_ip": "5/1h", "ratelimit.signup_per_ip": "3/1h"})
	for _, tc := range []struct {
		path string
		n    int
		body func(i int) map[string]string
	}{
		{"/v1/recovery", 5, func(i int) map[string]string { return map[string]string{"email": "ada@example.com"} }},
		{"/v1/signup", 3, func(i int) map[string]string {
			return map[string]string{"email": "user" + strings.Repeat("x", i) + "@example.com", "password": "correct horse battery"}
		}},
	} {
		const burst = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		counts := map[int]int{}
		for i := range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j, _ := json.Marshal(tc.body(i))
				res, err := http.Post(s.URL+tc.path, "application/json", bytes.NewReader(j))
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
					t.Errorf("%s: 429 without Retry-After", tc.path)
				}
				mu.Lock()
				counts[res.StatusCode]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if counts[http.StatusAccepted] != tc.n || counts[http.StatusTooManyRequests] != burst-tc.n {
			t.Errorf("%s burst of %d: %v; want %d accepted, the rest 429", tc.path, burst, counts, tc.n)
		}
	}
}

// TestLifecycle_EmailChange: the change is asked for with the current
// password, mailed to the new address with a notice to the old one, and
// happens only when the new address's link is followed; then the new
// address signs in, the old one no longer does, and the old session ends.
func TestLifecycle_EmailChange(t *testing.T) {
	r, addr := startRelay(t, "127.0.0.1:0")
	s := startLife(t, addr, nil)
	const oldAddr, newAddr, pw = "ada@example.com", "ada@example.org", "correct horse battery"
	signUpAndVerify(t, s, r, oldAddr, pw)
	c := jarClient(t)
	in := call(t, c, "POST", s.URL+"/v1/login", map[string]string{"email": oldAddr, "password": pw})
	csrf := in.body["csrf_token"].(string)
	want(t, "wrong password", call(t, c, "POST", s.URL+"/v1/email", map[string]string{"new_email": newAddr, "current_password": "wrong password here"}, "X-CSRF-Token", csrf),
		http.StatusUnauthorized, "invalid_credentials")
	want(t, "change", call(t, c, "POST", s.URL+"/v1/email", map[string]string{"new_email": newAddr, "current_password": pw}, "X-CSRF-Token", csrf),
		http.StatusAccepted, "")
	_, tok := link(t, r.await(t, newAddr, 1)[0])
	notice := r.await(t, oldAddr, 2)[1] // after the sign-up verification
	if strings.Contains(notice.text, "token=") || !strings.Contains(notice.text, newAddr) {
		t.Errorf("notice to the old address:\n%s", notice.text)
	}
	want(t, "old address before the link", call(t, jarClient(t), "POST", s.URL+"/v1/login", map[string]string{"email": oldAddr, "password": pw}), http.StatusOK, "")
	done := call(t, jarClient(t), "POST", s.URL+"/v1/email/verify", map[string]string{"token": tok})
	want(t, "follow the link", done, http.StatusOK, "")
	if u := done.body["user"].(map[string]any); u["email"] != newAddr || u["email_verified"] != true {
		t.Fatalf("user after the change: %v", u)
	}
	want(t, "old session", call(t, c, "GET", s.URL+"/v1/whoami", nil), http.StatusUnauthorized, "unauthorized")
	want(t, "old address", call(t, jarClient(t), "POST", s.URL+"/v1/login", map[string]string{"email": oldAddr, "password": pw}), http.StatusUnauthorized, "invalid_credentials")
	want(t, "new address", call(t, jarClient(t), "POST", s.URL+"/v1/login", map[string]string{"email": newAddr, "password": pw}), http.StatusOK, "")
	want(t, "used link", call(t, jarClient(t), "POST", s.URL+"/v1/email/verify", map[string]string{"token": tok}), http.StatusBadRequest, "invalid_token")
}

// TestLifecycle_ExpiredRecoveryLinkRefused: a recovery link past its 15
// minutes is refused, and the password stays as it was.
func TestLifecycle_ExpiredRecoveryLinkRefused(t *testing.T) {
	r, addr := startRelay(t, "127.0.0.1:0")
	// The account service's clock runs 16 minutes behind the store's: every
	// link it issues has expired by the store's clock.
	s := startLifeWith(t, addr, nil, func(a *app.App) {
		a.Accounts.Now = func() time.Time { return time.Now().Add(-16 * time.Minute) }
	})
	const email, pw = "ada@example.com", "correct horse battery"
	signUpAndVerify(t, s, r, email, pw)
	want(t, "recovery", call(t, jarClient(t), "POST", s.URL+"/v1/recovery", map[string]string{"email": email}), http.StatusAccepted, "")
	_, tok := link(t, r.await(t, email, 2)[1])
	want(t, "expired link", call(t, jarClient(t), "POST", s.URL+"/v1/recovery/complete", map[string]string{"token": tok, "new_password": "new staple battery horse"}),
		http.StatusBadRequest, "invalid_token")
	want(t, "old password", call(t, jarClient(t), "POST", s.URL+"/v1/login", map[string]string{"email": email, "password": pw}), http.StatusOK, "")
}

// TestLifecycle_RecoveryPage: the mailed link opens a page with a
// new-password form (opening it spends nothing); posting it signs the
// person in (303 to /account) and the link is dead afterwards.
func TestLifecycle_RecoveryPage(t *testing.T) {
	r, addr := startRelay(t, "127.0.0.1:0")
	s := startLife(t, addr, nil)
	const email = "ada@example.com"
	signUpAndVerify(t, s, r, email, "correct horse battery")
	want(t, "recovery", call(t, jarClient(t), "POST", s.URL+"/v1/recovery", map[string]string{"email": email}), http.StatusAccepted, "")
	lnk, tok := link(t, r.await(t, email, 2)[1])
	c := jarClient(t)
	for range 2 {
		page := call(t, c, "GET", lnk, nil)
		if page.status != http.StatusOK || !strings.Contains(page.raw, `name="new_password"`) || !strings.Contains(page.raw, `value="`+tok+`"`) {
			t.Fatalf("recovery page: %d %s", page.status, page.raw)
		}
	}
	weak := call(t, c, "POST", s.URL+"/recovery", url.Values{"token": {tok}, "new_password": {"short"}})
	if weak.status != http.StatusBadRequest || !strings.Contains(weak.raw, `value="`+tok+`"`) {
		t.Fatalf("weak password: %d %s", weak.status, weak.raw)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	done := call(t, c, "POST", s.URL+"/recovery", url.Values{"token": {tok}, "new_password": {"new staple battery horse"}})
	if done.status != http.StatusSeeOther {
		t.Fatalf("recovery form: %d %s", done.status, done.raw)
	}
	want(t, "signed in by the form", call(t, c, "GET", s.URL+"/v1/whoami", nil), http.StatusOK, "")
	again := call(t, jarClient(t), "POST", s.URL+"/recovery", url.Values{"token": {tok}, "new_password": {"yet another passphrase"}})
	if again.status != http.StatusBadRequest || strings.Contains(again.raw, `name="new_password"`) {
		t.Fatalf("used link on the form: %d %s", again.status, again.raw)
	}
}
