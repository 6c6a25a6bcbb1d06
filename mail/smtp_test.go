package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/sessiond/sessiond/mail"
)

const secretPassword = "correct horse battery staple 9f8e7d"

func newSMTP(t *testing.T, cfg mail.SMTPConfig) *mail.SMTP {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "sessiond <no-reply@auth.example.com>"
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP: %v", err)
	}
	return s
}

func sample(t *testing.T, id string) *mail.Message {
	t.Helper()
	tpl, err := mail.NewTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := tpl.Message(mail.KindVerifyEmail, "ada@example.com", mail.SampleData())
	if err != nil {
		t.Fatal(err)
	}
	m.ID = id
	return m
}

// parts returns the decoded bodies of a multipart/alternative message by
// media type.
func parts(t *testing.T, r received) map[string]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v, want multipart/alternative", r.Msg.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	mr := multipart.NewReader(strings.NewReader(r.Body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var rd io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			rd = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = string(b)
	}
}

func TestSMTP_DeliversBothBodiesAndHeaders(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{})
	s := newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port, TLS: mail.TLSNone})
	m := sample(t, "0123abcd")
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := r.messages()
	if len(got) != 1 {
		t.Fatalf("relay got %d messages, want 1", len(got))
	}
	g := got[0]
	if g.From != "no-reply@auth.example.com" || len(g.To) != 1 || g.To[0] != "ada@example.com" {
		t.Fatalf("envelope from %q to %v", g.From, g.To)
	}
	h := g.Msg.Header
	subj, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	for k, want := range map[string]string{
		"From": `"sessiond" <no-reply@auth.example.com>`, "To": "<ada@example.com>",
		"Message-Id": "<0123abcd@auth.example.com>", "Auto-Submitted": "auto-generated",
	} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	if subj != m.Subject || h.Get("Date") == "" {
		t.Errorf("Subject %q (want %q), Date %q", subj, m.Subject, h.Get("Date"))
	}
	p := parts(t, g)
	link := mail.SampleData().Link
	if !strings.Contains(p["text/plain"], link) || !strings.Contains(p["text/html"], `href="`+link+`"`) {
		t.Fatalf("bodies lack the link:\ntext: %s\nhtml: %s", p["text/plain"], p["text/html"])
	}
}

func TestSMTP_StartTLSWithSelfSignedCert(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := selfSigned(t)
	r := startRelay(t, relayOpts{tls: srvTLS})
	ctx := context.Background()

	trusted := newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port, TLSConfig: cliTLS}) // starttls is the default
	if err := trusted.Send(ctx, sample(t, "tls1")); err != nil {
		t.Fatalf("send over STARTTLS trusting the cert: %v", err)
	}
	untrusted := newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port})
	if err := untrusted.Send(ctx, sample(t, "tls2")); err == nil || errors.Is(err, mail.ErrRejected) {
		t.Fatalf("send to an untrusted cert: %v, want a temporary error", err)
	}
	if n := len(r.messages()); n != 1 {
		t.Fatalf("relay got %d messages, want only the trusted one", n)
	}
}

func TestSMTP_StartTLSRefusesRelayWithoutTLS(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{}) // offers no STARTTLS
	for _, cfg := range []mail.SMTPConfig{
		{Host: r.host, Port: r.port},
		{Host: r.host, Port: r.port, Username: "app", Password: secretPassword},
	} {
		if err := newSMTP(t, cfg).Send(context.Background(), sample(t, "clear")); err == nil {
			t.Fatalf("starttls mode (user %q) sent to a relay without STARTTLS", cfg.Username)
		}
	}
	if n := len(r.messages()); n != 0 || r.authAttempts() != 0 {
		t.Fatalf("relay got %d messages and %d auth attempts in clear text", n, r.authAttempts())
	}
}

func TestSMTP_AuthWithUsernamePassword(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := selfSigned(t)
	r := startRelay(t, relayOpts{tls: srvTLS, user: "app", pass: secretPassword})
	ctx := context.Background()
	good := newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port, TLSConfig: cliTLS, Username: "app", Password: secretPassword})
	if err := good.Send(ctx, sample(t, "auth1")); err != nil {
		t.Fatalf("send with the right password: %v", err)
	}
	bad := newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port, TLSConfig: cliTLS, Username: "app", Password: "wrong-" + secretPassword})
	err := bad.Send(ctx, sample(t, "auth2"))
	if err == nil {
		t.Fatal("send with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), secretPassword) {
		t.Fatalf("error shows the password: %v", err)
	}
	none := newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port, TLSConfig: cliTLS})
	if err := none.Send(ctx, sample(t, "auth3")); err == nil {
		t.Fatal("send without credentials to a relay requiring them succeeded")
	}
	if n := len(r.messages()); n != 1 {
		t.Fatalf("relay got %d messages, want 1", n)
	}
}

func TestSMTP_PermanentAndTemporaryAnswers(t *testing.T) {
	t.Parallel()
	r := startRelay(t, relayOpts{})
	s := newSMTP(t, mail.SMTPConfig{Host: r.host, Port: r.port, TLS: mail.TLSNone})
	for _, c := range []struct {
		answer    *smtp.SMTPError
		permanent bool
	}{
		{&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}, false},
		{&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, true},
	} {
		r.setAnswer(c.answer)
		err := s.Send(context.Background(), sample(t, fmt.Sprint("ans", c.answer.Code)))
		if err == nil || errors.Is(err, mail.ErrRejected) != c.permanent {
			t.Errorf("answer %d: err %v, permanent %v", c.answer.Code, err, errors.Is(err, mail.ErrRejected))
		}
	}
}

func TestNewSMTP_TLSNoneOnlyForLoopback(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		host string
		tls  mail.TLSMode
		ok   bool
	}{
		{"127.0.0.1", mail.TLSNone, true},
		{"127.1.2.3", mail.TLSNone, true},
		{"::1", mail.TLSNone, true},
		{"[::1]", mail.TLSNone, true},
		{"localhost", mail.TLSNone, true},
		{"smtp.example.com", mail.TLSNone, false},
		{"10.0.0.5", mail.TLSNone, false},
		{"localhost.example.com", mail.TLSNone, false},
		{"smtp.example.com", mail.TLSStartTLS, true},
		{"smtp.example.com", mail.TLSImplicit, true},
		{"smtp.example.com", "", true},
		{"smtp.example.com", "ssl", false},
	} {
		_, err := mail.NewSMTP(mail.SMTPConfig{Host: c.host, TLS: c.tls, From: "a@example.com"})
		if (err == nil) != c.ok {
			t.Errorf("host %q tls %q: err %v, want ok=%v", c.host, c.tls, err, c.ok)
		}
		if err != nil && c.tls == mail.TLSNone && !strings.Contains(err.Error(), "loopback") {
			t.Errorf("host %q: error %q does not say why", c.host, err)
		}
	}
	for _, cfg := range []mail.SMTPConfig{{From: "a@example.com"}, {Host: "smtp.example.com"}, {Host: "smtp.example.com", From: "not an address"}} {
		if _, err := mail.NewSMTP(cfg); err == nil {
			t.Errorf("%v: accepted", cfg)
		}
	}
}

func TestSMTPConfig_NeverShowsPassword(t *testing.T) {
	t.Parallel()
	cfg := mail.SMTPConfig{Host: "smtp.example.com", Username: "app", Password: secretPassword, From: "a@example.com"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "smtp", cfg)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "smtp", cfg)
	fmt.Fprintf(&buf, "%v %+v %#v %s", cfg, cfg, cfg, cfg)
	if strings.Contains(buf.String(), secretPassword) || !strings.Contains(buf.String(), "smtp.example.com") {
		t.Fatalf("output shows the password or lacks the host:\n%s", buf.String())
	}
}

func TestLog_LogsLinks(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := &mail.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := l.Send(context.Background(), sample(t, "dev1")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ada@example.com", mail.SampleData().Link, "verify_email"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}
