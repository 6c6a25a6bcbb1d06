package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"strings"
	texttemplate "text/template"
	"time"
)

// Kind names a message template.
type Kind string

// The messages sessiond sends. Each has <kind>.txt (text/template, with a
// "subject" block) and <kind>.html (html/template) in templates/.
const (
	KindVerifyEmail      Kind = "verify_email"
	KindPasswordRecovery Kind = "password_recovery"
	KindSignupExists     Kind = "signup_exists" // sign-up with an address already registered
	KindNewDevice        Kind = "new_device"
	KindPasswordChanged  Kind = "password_changed"
	KindEmailChanged     Kind = "email_changed"
	KindFactorAdded      Kind = "factor_added"
	KindFactorRemoved    Kind = "factor_removed"
)

// Kinds lists every Kind, in a stable order.
var Kinds = []Kind{KindVerifyEmail, KindPasswordRecovery, KindSignupExists, KindNewDevice,
	KindPasswordChanged, KindEmailChanged, KindFactorAdded, KindFactorRemoved}

// Data is what a template may use. Fields a kind does not need stay empty.
// Values from users (Device, OldEmail, NewEmail) are escaped in HTML by
// html/template; links must be absolute https (or http on loopback) URLs
// built by the server.
type Data struct {
	Product  string        // the product name in greetings and subjects, e.g. "sessiond"
	Email    string        // the recipient's address
	Link     string        // the action link (verify, recovery), absolute
	Valid    time.Duration // how long Link works
	Time     time.Time     // when the event happened
	Device   string        // "Firefox 128 on Linux"
	IP       string        // the client IP of the event
	OldEmail string        // email change: the previous address
	NewEmail string        // email change: the new address
	Factor   string        // second factor: "authenticator app", "security key"
}

// SampleData returns Data with every field set, for previews and for the
// check that each template renders.
func SampleData() Data {
	return Data{
		Product: "sessiond", Email: "ada@example.com",
		Link:  "https://auth.example.com/verify?token=SAMPLE-TOKEN",
		Valid: 15 * time.Minute, Time: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC),
		Device: "Firefox 128 on Linux", IP: "203.0.113.7",
		OldEmail: "ada@example.com", NewEmail: "ada@example.org", Factor: "authenticator app",
	}
}

//go:embed templates/*.txt templates/*.html
var embedded embed.FS

// Templates renders messages from the embedded templates, each of which an
// operator may replace by a file of the same name in a directory. It is
// safe for concurrent use once built.
type Templates struct {
	text map[Kind]*texttemplate.Template
	html map[Kind]*htmltemplate.Template
}

var funcs = map[string]any{
	"minutes": func(d time.Duration) int { return int(d / time.Minute) },
	"when":    func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
}

// NewTemplates parses the embedded templates and, when dir is not empty, the
// files <kind>.txt, <kind>.html and layout.html (the frame every HTML body
// is drawn in) found there in their place (a kind may override one form and
// keep the other). Each template is rendered once with
// SampleData, so a broken override fails here, at start, naming its file.
func NewTemplates(dir string) (*Templates, error) {
	var over fs.FS
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("mail: templates: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("mail: templates: %s is not a directory", dir)
		}
		over = os.DirFS(dir)
	}
	src, name, err := pick(over, "layout.html")
	if err != nil {
		return nil, err
	}
	layout, err := htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("mail: templates: %w", err)
	}
	t := &Templates{text: map[Kind]*texttemplate.Template{}, html: map[Kind]*htmltemplate.Template{}}
	for _, k := range Kinds {
		src, name, err = pick(over, string(k)+".txt")
		if err != nil {
			return nil, err
		}
		tt, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("mail: templates: %w", err)
		}
		if tt.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: templates: %s has no {{define \"subject\"}} block", name)
		}
		t.text[k] = tt
		src, name, err = pick(over, string(k)+".html")
		if err != nil {
			return nil, err
		}
		base, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("mail: templates: %w", err)
		}
		ht, err := base.New(name).Parse(src)
		if err != nil {
			return nil, fmt.Errorf("mail: templates: %w", err)
		}
		t.html[k] = ht
		if _, err := t.Message(k, "sample@example.com", SampleData()); err != nil {
			return nil, fmt.Errorf("mail: templates: %s: %w", k, err)
		}
	}
	return t, nil
}

// pick returns the override file when over has it, else the embedded one,
// and a name for errors.
func pick(over fs.FS, file string) (string, string, error) {
	if over != nil {
		b, err := fs.ReadFile(over, file)
		if err == nil {
			return string(b), file + " (override)", nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("mail: templates: %w", err)
		}
	}
	b, err := embedded.ReadFile("templates/" + file)
	if err != nil {
		return "", "", fmt.Errorf("mail: templates: %w", err)
	}
	return string(b), file, nil
}

// Message renders kind for the recipient to with data into a Message ready
// for Dispatcher.Enqueue. Its errors name the template; an unknown kind or
// an invalid recipient is an error wrapping ErrInvalidMessage.
func (t *Templates) Message(kind Kind, to string, data Data) (*Message, error) {
	tt, ok := t.text[kind]
	if !ok {
		return nil, fmt.Errorf("mail: render: unknown kind %q: %w", kind, ErrInvalidMessage)
	}
	if data.Email == "" {
		data.Email = to
	}
	var subj, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subj, "subject", data); err != nil {
		return nil, fmt.Errorf("mail: render: %w", err)
	}
	if err := tt.Execute(&text, data); err != nil {
		return nil, fmt.Errorf("mail: render: %w", err)
	}
	if err := t.html[kind].Execute(&html, data); err != nil {
		return nil, fmt.Errorf("mail: render: %w", err)
	}
	m := &Message{
		Kind:    kind,
		To:      to,
		Subject: strings.Join(strings.Fields(subj.String()), " "), // one line, whatever the data held
		Text:    strings.TrimSpace(text.String()) + "\n",
		HTML:    html.String(),
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("mail: render %s: %w", kind, err)
	}
	return m, nil
}
