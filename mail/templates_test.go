package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/mail"
)

func TestTemplates_EveryKindRendersBothForms(t *testing.T) {
	t.Parallel()
	tpl, err := mail.NewTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	d := mail.SampleData()
	// What each message must tell its reader, beyond the product name.
	needs := map[mail.Kind][]string{
		mail.KindVerifyEmail:      {d.Link, "15 minutes"},
		mail.KindPasswordRecovery: {d.Link, "15 minutes"},
		mail.KindSignupExists:     {d.Link},
		mail.KindNewDevice:        {d.Device, d.IP, "10 Mar 2026 12:00 UTC"},
		mail.KindPasswordChanged:  {d.Device, d.IP},
		mail.KindEmailChanged:     {d.OldEmail, d.NewEmail},
		mail.KindFactorAdded:      {d.Factor, d.Device},
		mail.KindFactorRemoved:    {d.Factor, d.Device},
	}
	if len(needs) != len(mail.Kinds) {
		t.Fatalf("test covers %d kinds, package has %d", len(needs), len(mail.Kinds))
	}
	for _, k := range mail.Kinds {
		t.Run(string(k), func(t *testing.T) {
			m, err := tpl.Message(k, "ada@example.com", d)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != k || m.To != "ada@example.com" || !strings.Contains(m.Subject, "sessiond") || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("kind %q to %q subject %q", m.Kind, m.To, m.Subject)
			}
			if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") || !strings.Contains(m.HTML, "ada@example.com") {
				t.Errorf("HTML is not a full page for the recipient:\n%s", m.HTML)
			}
			for _, want := range needs[k] {
				if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
					t.Errorf("%q missing from text or HTML:\n%s\n%s", want, m.Text, m.HTML)
				}
			}
			if strings.Contains(m.Text, "<no value>") || strings.Contains(m.HTML, "<no value>") || strings.Contains(m.HTML, "ZgotmplZ") {
				t.Errorf("a field did not render:\n%s\n%s", m.Text, m.HTML)
			}
		})
	}
}

func TestTemplates_HTMLEscapesUserValues(t *testing.T) {
	t.Parallel()
	tpl, err := mail.NewTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	d := mail.SampleData()
	d.Device = `<script>alert(1)</script><a href="https://evil.example">x</a>`
	m, err := tpl.Message(mail.KindNewDevice, "ada@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, `<a href="https://evil.example">`) || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Fatalf("user value not escaped:\n%s", m.HTML)
	}
	d = mail.SampleData()
	d.Link = "javascript:alert(1)"
	m, err = tpl.Message(mail.KindVerifyEmail, "ada@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Fatalf("javascript: link kept in href:\n%s", m.HTML)
	}
}

func TestTemplates_SubjectStaysOneLine(t *testing.T) {
	t.Parallel()
	tpl, err := mail.NewTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	d := mail.SampleData()
	d.Product = "Acme\r\nBcc: eve@example.com"
	m, err := tpl.Message(mail.KindPasswordRecovery, "ada@example.com", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Fatalf("subject %q spans lines", m.Subject)
	}
	if _, err := tpl.Message(mail.KindVerifyEmail, "Eve <eve@example.com>", d); err == nil {
		t.Fatal("a recipient with a display name was accepted")
	}
	if _, err := tpl.Message("nope", "ada@example.com", d); err == nil {
		t.Fatal("an unknown kind rendered")
	}
}

func TestTemplates_OverrideDirWins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("verify_email.txt", `{{define "subject"}}Acme: confirm {{.Email}}{{end}}Acme says: open {{.Link}}`)
	write("layout.html", `{{define "layout"}}<!DOCTYPE html><p class="acme">{{template "title" .}}</p>{{template "body" .}}{{end}}`)
	tpl, err := mail.NewTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tpl.Message(mail.KindVerifyEmail, "ada@example.com", mail.SampleData())
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Acme: confirm ada@example.com" || m.Text != "Acme says: open "+mail.SampleData().Link+"\n" {
		t.Errorf("text override not used: %q / %q", m.Subject, m.Text)
	}
	if !strings.Contains(m.HTML, `<p class="acme">Confirm your email address</p>`) {
		t.Errorf("layout override not used or embedded body lost:\n%s", m.HTML)
	}
	m, err = tpl.Message(mail.KindNewDevice, "ada@example.com", mail.SampleData())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "not seen before") {
		t.Errorf("a kind without override lost its embedded text:\n%s", m.Text)
	}
}

func TestTemplates_BrokenOverrideFailsAtStart(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"verify_email.txt":     `{{define "subject"}}x{{end}}{{.NoSuchField}}`,
		"password_changed.txt": `no subject block`,
		"new_device.html":      `{{define "title"}}t{{end}}{{define "body"}}{{.Device{{end}}{{template "layout" .}}`,
		"factor_removed.txt":   `{{define "subject"}}{{end}}body`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := mail.NewTemplates(dir)
		if err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(strings.TrimSuffix(name, ".txt"), ".html")) {
			t.Errorf("%s: err %v, want one naming it", name, err)
		}
	}
	if _, err := mail.NewTemplates(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing override directory was accepted")
	}
}
