package client_test

import (
	"fmt"
	"time"

	"github.com/sessiond/sessiond/client"
)

// A confidential web app registers with a generated secret; the secret is
// shown once and only its hash is kept.
func Example() {
	secret, err := client.NewSecret()
	if err != nil {
		panic(err)
	}
	c := &client.Client{
		ID:           "billing-web",
		Name:         "Billing",
		SecretHash:   client.HashSecret(secret),
		Grants:       []string{client.GrantAuthorizationCode, client.GrantRefreshToken},
		Scopes:       []string{"openid", "email"},
		RedirectURIs: []string{"https://billing.example.com/oidc/callback"},
		CreatedAt:    time.Now(),
	}
	if err := client.Validate(c); err != nil {
		panic(err)
	}
	// Later, at the token endpoint:
	fmt.Println(c.CheckSecret(secret), c.CheckSecret("not-the-secret"))
	fmt.Println(c.Allows(client.GrantAuthorizationCode), c.Allows(client.GrantPassword))
	fmt.Println(c.HasRedirectURI("https://billing.example.com/oidc/callback"),
		c.HasRedirectURI("https://billing.example.com/oidc/callback/"))
	// Output:
	// true false
	// true false
	// true false
}

// Validate names what is wrong with a registration.
func ExampleValidate() {
	c := &client.Client{
		ID:           "spa",
		Public:       true,
		Grants:       []string{client.GrantAuthorizationCode},
		RedirectURIs: []string{"http://spa.example.com/callback"},
	}
	fmt.Println(client.Validate(c))
	// Output:
	// client: invalid registration: redirect URI "http://spa.example.com/callback": http is allowed only for 127.0.0.1, [::1] and localhost; use https
}

// A service uses client_credentials for the audiences it was registered
// with.
func ExampleClient_AllowsAudience() {
	svc := &client.Client{
		ID:         "reports-worker",
		SecretHash: client.HashSecret("Xq3v9Lw2Zr8Tn5Pk1Hs7Jd4Fb6Mc0Gy"),
		Grants:     []string{client.GrantClientCredentials},
		Audiences:  []string{"https://api.example.com"},
	}
	fmt.Println(client.Validate(svc))
	fmt.Println(svc.AllowsAudience("https://api.example.com"), svc.AllowsAudience("https://admin.example.com"))
	// Output:
	// <nil>
	// true false
}

// First-party apps use the password grant through the built-in public
// client, which is never stored.
func ExampleFirstParty() {
	c := client.FirstParty()
	fmt.Println(c.ID, c.Public, c.Allows(client.GrantPassword))
	// Output:
	// sessiond true true
}
