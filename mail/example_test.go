package mail_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/mail"
)

func ExampleTemplates_Message() {
	tpl, err := mail.NewTemplates("") // or a directory of overrides
	if err != nil {
		panic(err)
	}
	m, err := tpl.Message(mail.KindPasswordRecovery, "ada@example.com", mail.Data{
		Product: "Acme", Link: "https://auth.acme.example/recovery?token=abc", Valid: 15 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Subject)
	fmt.Println(m.Text)
	// Output:
	// Reset your Acme password
	// Hello,
	//
	// someone asked to reset the password of ada@example.com. To choose a new password, open this link:
	//
	// https://auth.acme.example/recovery?token=abc
	//
	// The link works for 15 minutes and only once. Setting a new password signs you out everywhere.
	// If you did not ask for this, ignore this message: your password stays as it is.
}

func ExampleDispatcher() {
	ctx := context.Background()
	// In production: mail.NewSMTP(mail.SMTPConfig{Host: "smtp.example.com",
	// Username: "sessiond", Password: secret, From: "Acme <no-reply@acme.example>"}).
	sender := mail.SenderFunc(func(_ context.Context, m *mail.Message) error {
		fmt.Println("sent to", m.To+":", m.Subject)
		return nil
	})
	d, err := mail.NewDispatcher(mail.DispatcherConfig{Outbox: mail.NewMemoryOutbox(), Sender: sender})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	// go d.Run(ctx) sends in the background; RunOnce sends one batch now.
	tpl, _ := mail.NewTemplates("")
	m, _ := tpl.Message(mail.KindVerifyEmail, "ada@example.com", mail.SampleData())
	if err := d.Enqueue(ctx, m); err != nil {
		panic(err)
	}
	n, _ := d.RunOnce(ctx)
	depth, _ := d.QueueDepth(ctx)
	fmt.Println("claimed", n, "sent", d.Metrics.Sent.Load(), "waiting", depth)
	// Output:
	// sent to ada@example.com: Confirm your email address for sessiond
	// claimed 1 sent 1 waiting 0
}

func ExampleNewSMTP() {
	_, err := mail.NewSMTP(mail.SMTPConfig{Host: "smtp.example.com", TLS: mail.TLSNone, From: "no-reply@example.com"})
	fmt.Println(err)
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: "smtp.example.com", Username: "sessiond", Password: "secret",
		From: "Acme <no-reply@acme.example>"})
	fmt.Println(s != nil, err)
	// Output:
	// mail: smtp: tls "none" is allowed only for a relay on a loopback address, not "smtp.example.com": use starttls or implicit
	// true <nil>
}
