package verifier

import (
	"net/http"
	"testing"

	"github.com/sessiond/sessiond/token"
)

// FuzzParseJWKS feeds untrusted JWKS bodies to the parser: it must never
// panic, and whatever it accepts must be a usable public verification key.
// Seeds: testdata/fuzz/FuzzParseJWKS.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","alg":"EdDSA","use":"sig"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA","kid":"k1","alg":"HS256"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","alg":"ES256","x":"AQ","y":"AQ","d":"AQ"}]}`))
	f.Add([]byte(`{"keys":[null,1,"x",{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, _, err := parseJWKS(data)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid != k.kid || !token.ValidKeyID(kid) {
				t.Fatalf("accepted kid %q", kid)
			}
			if err := checkKey(k.alg, k.pub); err != nil {
				t.Fatalf("accepted unusable key %q: %v", kid, err)
			}
		}
	})
}

// FuzzCacheTTL: any Cache-Control and Age headers give a TTL within bounds.
func FuzzCacheTTL(f *testing.F) {
	f.Add("public, max-age=300", "")
	f.Add(`max-age="9999999999999999999"`, "-1")
	f.Add("no-store, max-age=60", "5")
	f.Fuzz(func(t *testing.T, cc, age string) {
		h := http.Header{"Cache-Control": {cc}, "Age": {age}}
		ttl := cacheTTL(h, DefaultTTL, DefaultMinTTL, DefaultMaxTTL)
		if ttl < DefaultMinTTL || ttl > DefaultMaxTTL {
			t.Fatalf("ttl %s out of [%s, %s]", ttl, DefaultMinTTL, DefaultMaxTTL)
		}
	})
}
