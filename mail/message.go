package mail

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Message is one email in the outbox: its recipient and rendered content,
// and the delivery state the Outbox keeps. The zero value is not valid;
// Templates.Message builds one, Dispatcher.Enqueue fills in ID and times.
type Message struct {
	// ID identifies the message in the outbox and is its Message-ID's local
	// part; Dispatcher.Enqueue sets a random one when empty.
	ID string
	// Kind is the template the message was rendered from, for logs and audit.
	Kind Kind
	// To is the recipient's address (addr-spec, no display name).
	To string
	// Subject, Text and HTML are the rendered content. HTML may be empty.
	Subject string
	Text    string
	HTML    string
	// CreatedAt is when the message was accepted.
	CreatedAt time.Time
	// NotBefore is when the message is next due.
	NotBefore time.Time
	// Attempts counts the claims so far, this one included (set by Claim).
	Attempts int
	// Lease identifies the current claim (set by Claim); MarkSent and
	// MarkFailed must present it.
	Lease string
}

// Errors callers branch on.
var (
	// ErrLeaseLost is returned by MarkSent and MarkFailed when the message
	// is no longer claimed under the given lease: the lease ran out and
	// another dispatcher claimed it, it was already finished, or it is
	// unknown.
	ErrLeaseLost = errors.New("mail: lease lost")
	// ErrRejected marks a permanent refusal by the relay (a 5xx answer):
	// sending the same message again would fail the same way, so the
	// Dispatcher gives up at once. Senders wrap it.
	ErrRejected = errors.New("mail: rejected by relay")
	// ErrInvalidMessage is returned for a message that cannot be sent as
	// it is (bad address, header injection, empty body).
	ErrInvalidMessage = errors.New("mail: invalid message")
)

// newID returns a random 128-bit identifier in hex.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// Validate reports whether m can be handed to a relay: a single plain
// address in To, a subject and a text body without CR or LF where a header
// takes them. Its errors wrap ErrInvalidMessage.
func (m *Message) Validate() error {
	a, err := mail.ParseAddress(m.To)
	if err != nil || a.Name != "" || a.Address != m.To {
		return fmt.Errorf("mail: validate: recipient %q is not a plain address: %w", m.To, ErrInvalidMessage)
	}
	if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("mail: validate: subject empty or multi-line: %w", ErrInvalidMessage)
	}
	if m.Text == "" {
		return fmt.Errorf("mail: validate: empty text body: %w", ErrInvalidMessage)
	}
	if strings.ContainsAny(m.ID, "\r\n<>@ ") {
		return fmt.Errorf("mail: validate: bad id: %w", ErrInvalidMessage)
	}
	return nil
}
