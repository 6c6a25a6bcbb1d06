package verifier

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessiond/sessiond/token"
)

// BenchmarkVerify measures Verify with a warm key cache (no I/O), per
// algorithm, beside token.Verifier reading the in-process key set: the
// difference is what the remote key set costs.
//
//	go test -run '^$' -bench . -benchmem ./verifier/
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []token.Alg{token.EdDSA, token.ES256, token.RS256} {
		e := newIssuerEnv(b, alg)
		tok := e.issue(b, token.Claims{Roles: []string{"user"}, Scope: "orders:read"})
		v := e.verifier(b, nil)
		mustVerify(b, v, tok) // warm
		b.Run(string(alg), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/in-process-keys", func(b *testing.B) {
			tv, err := token.NewVerifier(e.keys, token.VerifierConfig{Issuer: e.url, Audience: testAudience, Now: e.clk.Now})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tv.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(alg)+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		if n := e.requests.Load(); n != 1 {
			b.Errorf("%s: JWKS requests = %d, want 1 (warm cache)", alg, n)
		}
	}
}

// BenchmarkMiddleware is Verify plus header parsing and the context, with
// a trivial handler.
func BenchmarkMiddleware(b *testing.B) {
	e := newIssuerEnv(b, token.EdDSA)
	v := e.verifier(b, nil)
	tok := e.issue(b, token.Claims{})
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatal(w.Code)
		}
	}
}
