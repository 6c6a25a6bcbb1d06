package mailtest_test

import (
	"testing"

	"github.com/sessiond/sessiond/mail"
	"github.com/sessiond/sessiond/mail/mailtest"
)

func TestMemoryOutbox(t *testing.T) {
	mailtest.RunOutbox(t, func(*testing.T) mail.Outbox { return mail.NewMemoryOutbox() })
}
