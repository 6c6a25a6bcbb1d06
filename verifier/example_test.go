package verifier_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/sessiond/sessiond/token"
	"github.com/sessiond/sessiond/verifier"
)

// A resource server accepts sessiond access tokens: it finds the issuer's
// JWKS by discovery, verifies every bearer token locally and reads the
// caller from the request context.
func Example() {
	sessiond := startSessiond() // a stand-in for a running sessiond
	defer sessiond.Close()

	v, err := verifier.New(context.Background(), verifier.Config{
		Issuer:   sessiond.URL, // e.g. "https://auth.example.com"; its JWKS is discovered
		Audience: "https://api.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	listOrders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verifier.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "orders of %s", c.Subject)
	})
	deleteOrder := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /orders", v.Middleware(listOrders))
	mux.Handle("DELETE /orders/{id}", v.Middleware(verifier.RequireRoles("admin")(deleteOrder)))
	api := httptest.NewServer(mux)
	defer api.Close()

	ada := sessiond.Issue(token.Claims{Subject: "ada", Roles: []string{"user"}})
	fmt.Println(call("GET", api.URL+"/orders", ada))
	fmt.Println(call("DELETE", api.URL+"/orders/7", ada))
	fmt.Println(call("GET", api.URL+"/orders", ""))
	fmt.Println(call("GET", api.URL+"/orders", "forged.token.here"))
	// Output:
	// 200 orders of ada
	// 403 {"error":"forbidden","message":"the access token does not grant this request"}
	// 401 Bearer {"error":"unauthorized","message":"a bearer access token is required"}
	// 401 Bearer error="invalid_token" {"error":"unauthorized","message":"the access token is invalid"}
}

// With a revocation check, a token revoked at sessiond (logout, "log out
// everywhere", a disabled user) stops working before it expires.
func ExampleNewIntrospection() {
	sessiond := startSessiond()
	defer sessiond.Close()

	revocation, err := verifier.NewIntrospection(verifier.IntrospectionConfig{
		Issuer:       sessiond.URL,
		ClientID:     "orders-api", // registered with `sessiond client add`
		ClientSecret: "s3cret",
		CacheTTL:     -1, // ask every time; by default an "active" answer is reused for 10 s
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verifier.New(context.Background(), verifier.Config{
		Issuer:     sessiond.URL,
		Audience:   "https://api.example.com",
		Revocation: revocation,
	})
	if err != nil {
		log.Fatal(err)
	}
	tok := sessiond.Issue(token.Claims{Subject: "ada"})
	_, err = v.Verify(context.Background(), tok)
	fmt.Println("before logout:", err)

	sessiond.Logout(tok)
	_, err = v.Verify(context.Background(), tok)
	fmt.Println("after logout:", errors.Is(err, token.ErrInvalidToken), errors.Is(err, verifier.ErrRevoked))
	// Output:
	// before logout: <nil>
	// after logout: true true
}

// call makes a request with a bearer token and prints the answer briefly.
func call(method, url, tok string) string {
	req, _ := http.NewRequest(method, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := fmt.Sprint(resp.StatusCode)
	if c := resp.Header.Get("WWW-Authenticate"); c != "" {
		out += " " + c
	}
	if len(body) > 0 {
		out += " " + strings.TrimSpace(string(body))
	}
	return out
}

// fakeSessiond publishes a real key set the way sessiond does (discovery,
// JWKS, RFC 7662 introspection) and issues real tokens.
type fakeSessiond struct {
	*httptest.Server
	issuer   *token.Issuer
	verifier *token.Verifier
	mu       sync.Mutex
	revoked  map[string]bool // by jti
}

func startSessiond() *fakeSessiond {
	ctx := context.Background()
	keys, err := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		log.Fatal(err)
	}
	s := &fakeSessiond{revoked: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": s.URL, "jwks_uri": s.URL + "/.well-known/jwks.json"})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		b, _ := keys.JWKS()
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /v1/introspect", func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "orders-api" || secret != "s3cret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		c, err := s.verifier.Verify(r.Context(), r.PostFormValue("token"))
		s.mu.Lock()
		active := err == nil && !s.revoked[c.ID]
		s.mu.Unlock()
		if !active {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": c.Subject, "jti": c.ID})
	})
	s.Server = httptest.NewServer(mux)
	s.issuer, _ = token.NewIssuer(keys, token.IssuerConfig{Issuer: s.URL, Audience: []string{"https://api.example.com"}})
	s.verifier, _ = token.NewVerifier(keys, token.VerifierConfig{Issuer: s.URL, Audience: "https://api.example.com"})
	return s
}

func (s *fakeSessiond) Issue(c token.Claims) string {
	tok, err := s.issuer.Issue(context.Background(), c)
	if err != nil {
		log.Fatal(err)
	}
	return tok
}

func (s *fakeSessiond) Logout(tok string) {
	c, err := s.verifier.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	s.mu.Lock()
	s.revoked[c.ID] = true
	s.mu.Unlock()
}
