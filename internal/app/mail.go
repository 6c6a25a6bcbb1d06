package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/mail"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/sqlitestore"
)

// Mailer is the app's outgoing mail: the users store's outbox, emptied by
// a dispatcher that runs in the background until the App closes.
type Mailer struct {
	Dispatcher *mail.Dispatcher
	Templates  *mail.Templates
	Outbox     mail.Outbox
}

// outboxOf is the durable outbox of the users store (SQLite, PostgreSQL), or
// one in memory for the memory store.
func outboxOf(users account.Store) mail.Outbox {
	switch s := users.(type) {
	case *sqlitestore.Store:
		return s.Outbox()
	case *pgstore.Store:
		return s.Outbox()
	}
	return mail.NewMemoryOutbox()
}

// senderFor is the relay of cfg.Mail.SMTP, or in dev with no relay the
// log; nil when there is neither (no mail is sent).
func senderFor(cfg *config.Config, log *slog.Logger) (mail.Sender, error) {
	m := cfg.Mail
	if m.SMTP.Host == "" {
		if cfg.Dev {
			return &mail.Log{Logger: log}, nil
		}
		return nil, nil
	}
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: m.SMTP.Host, Port: m.SMTP.Port, TLS: mail.TLSMode(m.SMTP.TLS),
		Username: m.SMTP.Username, Password: m.SMTP.Password.Reveal(), From: m.From})
	if err != nil {
		return nil, fmt.Errorf("app: mail.smtp: %w", err)
	}
	return s, nil
}

// buildMailer wires the outbox, templates and dispatcher and starts the
// dispatcher; nil when no mail can be sent. The dispatcher is closed with
// the App.
func (a *App) buildMailer(cfg *config.Config, users account.Store, log *slog.Logger) (*Mailer, error) {
	sender, err := senderFor(cfg, log)
	if err != nil || sender == nil {
		return nil, err
	}
	tpl, err := mail.NewTemplates(cfg.Mail.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("app: mail.templates_dir: %w", err)
	}
	ob := outboxOf(users)
	d, err := mail.NewDispatcher(mail.DispatcherConfig{Outbox: ob, Sender: sender, Logger: log,
		MinBackoff: cfg.Mail.RetryMinBackoff.Duration, MaxBackoff: cfg.Mail.RetryMaxBackoff.Duration})
	if err != nil {
		return nil, fmt.Errorf("app: mail: %w", err)
	}
	go func() { _ = d.Run(context.Background()) }()
	a.closers = append(a.closers, d)
	return &Mailer{Dispatcher: d, Templates: tpl, Outbox: ob}, nil
}

// lifecycle is the server's account lifecycle for cfg, or nil without a
// mailer.
func (a *App) lifecycle(cfg *config.Config, m *Mailer, limiter func(ratelimit.Rate, string) account.Limiter) *server.Lifecycle {
	if m == nil {
		return nil
	}
	return &server.Lifecycle{
		Templates: m.Templates, Queue: m.Dispatcher, Product: cfg.Branding.Name,
		Signup: cfg.Signup.Enabled, AllowedDomains: cfg.Signup.AllowedDomains,
		SignupPerIP:           limiter(cfg.RateLimit.SignupPerIP, "signup-ip"),
		RecoveryPerIP:         limiter(cfg.RateLimit.RecoveryPerIP, "mail-ip"),
		RecoveryPerEmail:      limiter(cfg.RateLimit.RecoveryPerEmail, "mail-address"),
		NoticePasswordChanged: cfg.Notices.PasswordChanged == "on",
		NoticeEmailChanged:    cfg.Notices.EmailChanged == "on",
	}
}

// mailCollector exports the dispatcher's counters and the outbox depth.
type mailCollector struct {
	d                            *mail.Dispatcher
	sent, retried, failed, queue *prometheus.Desc
}

func newMailCollector(d *mail.Dispatcher) *mailCollector {
	return &mailCollector{d: d,
		sent:    prometheus.NewDesc("sessiond_mail_sent_total", "Mails the relay accepted.", nil, nil),
		retried: prometheus.NewDesc("sessiond_mail_retried_total", "Failed mail attempts scheduled for another try.", nil, nil),
		failed:  prometheus.NewDesc("sessiond_mail_failed_total", "Mails given up (refused by the relay, or out of attempts).", nil, nil),
		queue:   prometheus.NewDesc("sessiond_mail_queue", "Mails waiting in the outbox.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *mailCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sent
	ch <- c.retried
	ch <- c.failed
	ch <- c.queue
}

// Collect implements prometheus.Collector. The queue depth is left out when
// the outbox does not answer within a second.
func (c *mailCollector) Collect(ch chan<- prometheus.Metric) {
	m := &c.d.Metrics
	ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(m.Sent.Load()))
	ch <- prometheus.MustNewConstMetric(c.retried, prometheus.CounterValue, float64(m.Retried.Load()))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(m.Failed.Load()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if n, err := c.d.QueueDepth(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(n))
	}
}
