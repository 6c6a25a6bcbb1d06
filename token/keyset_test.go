package token

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// jwksKids returns the kids in a JWKS and checks every key is public and
// carries kid, alg and use "sig".
func jwksKids(t *testing.T, k *Keys) []string {
	t.Helper()
	b, err := k.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	kids := []string{}
	for _, key := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := key[private]; ok {
				t.Fatalf("JWKS publishes private member %q: %s", private, b)
			}
		}
		if key["use"] != "sig" || key["alg"] == nil || key["kid"] == nil || key["kty"] == "oct" {
			t.Fatalf("JWKS key without use/alg/kid: %s", b)
		}
		kids = append(kids, key["kid"].(string))
	}
	return kids
}

func TestRule11_RotationKeepsOldKeyUntilItsTokensExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, EdDSA)
	old := e.key
	oldTok := e.issue(t, userClaims())

	e.clk.Add(5 * time.Minute)
	newKid, err := e.keys.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rotatedAt := e.clk.Now()
	signer, _ := e.keys.Signer()
	if signer.ID != newKid || newKid == old.ID {
		t.Fatalf("signer %s, want the new key %s", signer.ID, newKid)
	}
	newTok := e.issue(t, userClaims())
	if got := jwksKids(t, e.keys); !slices.Equal(got, []string{newKid, old.ID}) {
		t.Fatalf("JWKS kids %v, want new then old", got)
	}
	mustAccept(t, e.ver, oldTok) // the old key still verifies
	mustAccept(t, e.ver, newTok)

	var retired *Key
	for _, k := range e.keys.List() {
		if k.ID == old.ID {
			retired = k
		}
	}
	wantExpiry := rotatedAt.Add(DefaultTokenTTL + MaxLeeway)
	if !retired.RetiredAt.Equal(rotatedAt) || !retired.ExpiresAt.Equal(wantExpiry) {
		t.Fatalf("old key %v: want retired %s, expires %s", retired, rotatedAt, wantExpiry)
	}

	// Prune before expiry keeps it.
	e.clk.Add(DefaultTokenTTL)
	if pruned, err := e.keys.Prune(ctx); err != nil || len(pruned) != 0 {
		t.Fatalf("pruned %v early (%v)", pruned, err)
	}
	if got := jwksKids(t, e.keys); len(got) != 2 {
		t.Fatalf("JWKS %v lost the old key before its expiry", got)
	}
	// After expiry it leaves the JWKS at once, and Prune deletes it.
	e.clk.Add(MaxLeeway)
	if got := jwksKids(t, e.keys); !slices.Equal(got, []string{newKid}) {
		t.Fatalf("JWKS after expiry %v", got)
	}
	pruned, err := e.keys.Prune(ctx)
	if err != nil || !slices.Equal(pruned, []string{old.ID}) {
		t.Fatalf("pruned %v, %v", pruned, err)
	}
	if stored, _ := e.store.ListKeys(ctx); len(stored) != 1 || stored[0].ID != newKid {
		t.Fatalf("store after prune: %v", stored)
	}
	mustRefuse(t, e.ver, oldTok)
	// The current signer is never pruned, however old.
	e.clk.Add(365 * 24 * time.Hour)
	if pruned, _ := e.keys.Prune(ctx); len(pruned) != 0 {
		t.Fatalf("pruned the signer: %v", pruned)
	}
}

func TestRule11_RotatePublishesNextKeyBeforeItSigns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	const delay = 10 * time.Minute // e.g. JWKS max-age 5m + refresh 1m, rounded up
	keys := mustKeys(t, NewMemKeyStore(), KeysConfig{PublishDelay: delay, Now: clk.Now})
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := keys.Signer()
	if !first.NotBefore.Equal(t0) {
		t.Fatalf("the first key waits for the publish delay: %v", first)
	}
	next, err := keys.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := jwksKids(t, keys); !slices.Contains(got, next) || !slices.Contains(got, first.ID) {
		t.Fatalf("JWKS right after Rotate %v lacks the next key %s", got, next)
	}
	if s, _ := keys.Signer(); s.ID != first.ID {
		t.Fatalf("next key signs before its publish delay")
	}
	clk.Add(delay - time.Second)
	if s, _ := keys.Signer(); s.ID != first.ID {
		t.Fatalf("next key signs before its publish delay")
	}
	// A verifier that refreshed its cache any time during the delay has the
	// next key before it signs anything.
	cached := jwksKids(t, keys)
	clk.Add(time.Second)
	s, _ := keys.Signer()
	if s.ID != next {
		t.Fatalf("signer %s at NotBefore, want %s", s.ID, next)
	}
	if !slices.Contains(cached, next) {
		t.Fatal("a verifier refreshing during the delay missed the next key")
	}
	for _, k := range keys.List() {
		if k.ID == first.ID && (!k.RetiredAt.Equal(t0.Add(delay)) || !k.ExpiresAt.Equal(t0.Add(delay+DefaultTokenTTL+MaxLeeway))) {
			t.Fatalf("old key %v: retire when the next key starts signing", k)
		}
	}
	// Ensure does not rotate again while a key signs.
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(keys.List()); n != 2 {
		t.Fatalf("Ensure made a key: %d keys", n)
	}
}

func TestKeys_EnsureAndAlgChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	store := NewMemKeyStore()
	keys := mustKeys(t, store, KeysConfig{Now: clk.Now})
	if _, err := keys.Signer(); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("signer before Ensure: %v", err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(keys.List()); n != 1 {
		t.Fatalf("%d keys after two Ensure", n)
	}
	s, _ := keys.Signer()
	if s.Alg != EdDSA {
		t.Fatalf("default alg %s", s.Alg)
	}
	// The configuration moves to ES256: Ensure rotates.
	es := mustKeys(t, store, KeysConfig{Alg: ES256, Now: clk.Now})
	if err := es.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	s2, _ := es.Signer()
	if s2.Alg != ES256 || len(es.List()) != 2 {
		t.Fatalf("after alg change: signer %v, %d keys", s2, len(es.List()))
	}
}

func TestKeys_HMACFromConfigSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret := []byte("Q0tqHnGZ5rv1Jm2x8wK3pL7sYbT4cFhA") // 32 printable, non-repeating
	clk := newClock()
	store := NewMemKeyStore()
	for node := range 2 { // two replicas with the same secret agree on the kid
		keys := mustKeys(t, store, KeysConfig{Alg: HS256, Now: clk.Now})
		hk, err := NewHMACKey(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Add(ctx, hk); err != nil {
			t.Fatal(err)
		}
		if err := keys.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(keys.List()); n != 1 {
			t.Fatalf("node %d: %d keys", node, n)
		}
		if got := jwksKids(t, keys); len(got) != 0 {
			t.Fatalf("HS256 key published: %v", got)
		}
	}
	// The same kid with another alg is refused.
	ed := testKey(t, EdDSA)
	hk, _ := NewHMACKey(secret)
	ed.ID = hk.ID
	if err := mustKeys(t, store, KeysConfig{}).Add(ctx, ed); err == nil {
		t.Fatal("kid reused with another alg")
	}
}

func TestKeys_PruneRepairsInterruptedRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	store := NewMemKeyStore()
	keys := mustKeys(t, store, KeysConfig{Now: clk.Now})
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := keys.Signer()
	// A crash after storing the new key, before retiring the old one.
	clk.Add(time.Minute)
	nk, _ := GenerateKey(EdDSA, clk.Now())
	data, _ := MarshalKey(nk)
	_ = store.PutKey(ctx, StoredKey{ID: nk.ID, Alg: nk.Alg, Data: data, CreatedAt: nk.CreatedAt, NotBefore: nk.NotBefore})
	if _, err := keys.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.List() {
		if k.ID == old.ID && !k.RetiredAt.Equal(nk.NotBefore) {
			t.Fatalf("old key not retired: %v", k)
		}
	}
	clk.Add(DefaultTokenTTL + MaxLeeway)
	if pruned, _ := keys.Prune(ctx); !slices.Equal(pruned, []string{old.ID}) {
		t.Fatalf("pruned %v", pruned)
	}
}

func TestKeys_ConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, EdDSA)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				tok, err := e.iss.Issue(ctx, userClaims())
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := e.ver.Verify(ctx, tok); err != nil {
					t.Error(err)
					return
				}
				if i == 0 {
					if _, err := e.keys.Rotate(ctx); err != nil {
						t.Error(err)
					}
					if _, err := e.keys.Prune(ctx); err != nil {
						t.Error(err)
					}
					if _, err := e.keys.JWKS(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
}

func TestKeys_RunReloadsUntilCancelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, EdDSA)
	keys := mustKeys(t, e.store, KeysConfig{RefreshInterval: time.Millisecond, Now: e.clk.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- keys.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for len(keys.List()) == 0 {
		select {
		case <-deadline:
			t.Fatal("Run did not load the key set")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestKeys_Config(t *testing.T) {
	t.Parallel()
	if _, err := NewKeys(nil, KeysConfig{}); err == nil {
		t.Error("nil store accepted")
	}
	for _, cfg := range []KeysConfig{{Alg: "none"}, {Alg: "HS512"}, {TokenTTL: -1}, {PublishDelay: -time.Second}} {
		if _, err := NewKeys(NewMemKeyStore(), cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestMemKeyStore_Contract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &MemKeyStore{} // the zero value works
	if ks, err := s.ListKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("empty list: %v %v", ks, err)
	}
	data := []byte("data")
	if err := s.PutKey(ctx, StoredKey{ID: "a", Alg: EdDSA, Data: data, NotBefore: t0}); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X' // the store copied it
	ks, _ := s.ListKeys(ctx)
	if len(ks) != 1 || string(ks[0].Data) != "data" {
		t.Fatalf("list: %+v", ks)
	}
	ks[0].Data[0] = 'Y' // and hands out copies
	if err := s.PutKey(ctx, StoredKey{ID: "a", Alg: EdDSA, Data: []byte("v2"), RetiredAt: t0}); err != nil {
		t.Fatal(err)
	}
	ks, _ = s.ListKeys(ctx)
	if len(ks) != 1 || string(ks[0].Data) != "v2" || !ks[0].RetiredAt.Equal(t0) {
		t.Fatalf("upsert: %+v", ks)
	}
	if err := s.DeleteKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.PutKey(ctx, StoredKey{}); err == nil {
		t.Fatal("empty id stored")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ListKeys(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled list: %v", err)
	}
	if err := s.PutKey(cctx, StoredKey{ID: "b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v", err)
	}
	if err := s.DeleteKey(cctx, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled delete: %v", err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			id := string(rune('a' + i))
			_ = s.PutKey(ctx, StoredKey{ID: id, Data: []byte(id)})
			_, _ = s.ListKeys(ctx)
			_ = s.DeleteKey(ctx, id)
		})
	}
	wg.Wait()
}
