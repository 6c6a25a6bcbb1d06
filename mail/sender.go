package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Sender hands one message to a relay. The Dispatcher consumes it. An error
// wrapping ErrRejected is permanent; any other error is temporary and the
// message is tried again later.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, m *Message) error

// Send calls f(ctx, m).
func (f SenderFunc) Send(ctx context.Context, m *Message) error { return f(ctx, m) }

// TLSMode is how the SMTP connection is protected.
type TLSMode string

// The TLS modes. The zero value means TLSStartTLS.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and refuses a
	// relay that does not offer it (default; port 587 by default).
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465 by default).
	TLSImplicit TLSMode = "implicit"
	// TLSNone sends in clear text: allowed only for a relay on a loopback
	// address (localhost, 127.0.0.0/8, ::1), such as a local MTA (port 25
	// by default).
	TLSNone TLSMode = "none"
)

// SMTPConfig configures an SMTP sender. Zero values mean the documented
// defaults.
type SMTPConfig struct {
	// Host is the relay's host name or IP (required). It is also the name
	// the relay's certificate must carry.
	Host string
	// Port defaults to 587 for starttls, 465 for implicit and 25 for none.
	Port int
	// TLS is the TLS mode; default TLSStartTLS.
	TLS TLSMode
	// Username and Password authenticate to the relay (SMTP AUTH, the
	// strongest mechanism both sides know) when Username is set. Password is
	// a secret: it is never logged nor put in an error.
	Username string
	Password string
	// From is the sender address, with an optional display name:
	// "sessiond <no-reply@example.com>" (required).
	From string
	// TLSConfig overrides the TLS client configuration (for a relay whose
	// certificate a private CA issued: set RootCAs). ServerName defaults to
	// Host. Nil means the system roots and TLS 1.2 at least.
	TLSConfig *tls.Config
	// Timeout bounds one connection and message; default 30s.
	Timeout time.Duration
}

// LogValue implements slog.LogValuer so that logging the configuration
// never shows the password.
func (c SMTPConfig) LogValue() slog.Value {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return slog.GroupValue(slog.String("host", c.Host), slog.Int("port", c.Port),
		slog.String("tls", string(c.TLS)), slog.String("username", c.Username),
		slog.String("password", pw), slog.String("from", c.From))
}

// String describes the configuration without the password.
func (c SMTPConfig) String() string {
	return fmt.Sprintf("smtp://%s@%s:%d (tls %s, from %s)", c.Username, c.Host, c.Port, c.TLS, c.From)
}

// GoString is String, so %#v cannot print the password either.
func (c SMTPConfig) GoString() string { return c.String() }

// SMTP sends messages through an SMTP relay with wneessen/go-mail, one
// connection per message. It is safe for concurrent use.
type SMTP struct {
	cfg  SMTPConfig
	from *mail.Address
	opts []gomail.Option
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns a sender. It refuses a missing host or
// from address, an unknown TLS mode, and TLSNone for a relay that is not on
// a loopback address. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mail: smtp: host is required")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail: smtp: from %q: %w", cfg.From, err)
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout), gomail.WithTLSConfig(tc)}
	auth := gomail.SMTPAuthAutoDiscover
	switch cfg.TLS {
	case TLSStartTLS:
		cfg.Port = orDefault(cfg.Port, 587)
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		cfg.Port = orDefault(cfg.Port, 465)
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		if !isLoopback(cfg.Host) {
			return nil, fmt.Errorf("mail: smtp: tls %q is allowed only for a relay on a loopback address, not %q: use starttls or implicit", TLSNone, cfg.Host)
		}
		cfg.Port = orDefault(cfg.Port, 25)
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		auth = gomail.SMTPAuthPlainNoEnc // clear text is only ever on loopback
	default:
		return nil, fmt.Errorf("mail: smtp: unknown tls mode %q (starttls, implicit or none)", cfg.TLS)
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("mail: smtp: port %d out of range", cfg.Port)
	}
	opts = append(opts, gomail.WithPort(cfg.Port))
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	return &SMTP{cfg: cfg, from: from, opts: opts}, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// isLoopback reports whether host names the loopback interface, without
// asking DNS.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Send delivers m: From, To, Subject, Date, a Message-ID made of m.ID and
// the sender's domain, Auto-Submitted, and a text body with the HTML body as
// its alternative. A 5xx answer is returned wrapping ErrRejected. Errors
// never hold the password.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("mail: smtp send: %w: %w", err, ErrRejected)
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: smtp send: %w: %w", ErrInvalidMessage, ErrRejected)
	}
	msg.Subject(m.Subject)
	msg.SetDateWithValue(time.Now())
	if m.ID != "" {
		msg.SetMessageIDWithValue(m.ID + "@" + domainOf(s.from.Address))
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp send: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err = c.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		// The relay accepted the message; a later hiccup (RSET, QUIT) does
		// not make it undelivered.
		return nil
	}
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return fmt.Errorf("mail: smtp send: %w: %w", err, ErrRejected)
	}
	return fmt.Errorf("mail: smtp send: %w", err)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

// linkRE finds the URLs in a text body.
var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// Log is the development Sender: instead of sending, it logs each message —
// recipient, subject and the links of its text body — at Info, so the flows
// can be tried without a relay. Messages hold no passwords; their links are
// single-use credentials, so Log is for --dev only.
type Log struct {
	Logger *slog.Logger // nil means slog.Default()
}

var _ Sender = (*Log)(nil)

// Send logs m and returns nil.
func (l *Log) Send(ctx context.Context, m *Message) error {
	lg := l.Logger
	if lg == nil {
		lg = slog.Default()
	}
	lg.LogAttrs(ctx, slog.LevelInfo, "mail (dev: not sent)", slog.String("id", m.ID), slog.String("kind", string(m.Kind)),
		slog.String("to", m.To), slog.String("subject", m.Subject),
		slog.Any("links", linkRE.FindAllString(m.Text, -1)))
	return nil
}
