package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*refresh.Service, *clock, refresh.Minter) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	svc, err := refresh.New(refresh.Config{Store: memstore.New(clk.Now), Now: clk.Now, TTL: 30 * 24 * time.Hour,
		IdleTTL: 7 * 24 * time.Hour, Grace: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	mint := func(_ context.Context, f *refresh.Family) (string, time.Time, error) {
		return fmt.Sprintf("access-%s-%d", f.ID, n.Add(1)), clk.Now().Add(15 * time.Minute), nil
	}
	return svc, clk, mint
}

func TestRule12_RotationOnEveryUse(t *testing.T) {
	svc, clk, mint := setup(t)
	ctx := context.Background()
	_, tok, err := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{tok: true}
	for i := range 5 {
		clk.Advance(time.Minute)
		f, pair, err := svc.Refresh(ctx, tok, mint)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if seen[pair.RefreshToken] || len(pair.RefreshToken) != 43 {
			t.Fatalf("refresh %d did not rotate", i)
		}
		if f.Generation != int64(i+1) {
			t.Fatalf("generation %d", f.Generation)
		}
		seen[pair.RefreshToken] = true
		tok = pair.RefreshToken
	}
}

func TestRule12_RetryInsideGraceGetsTheSamePair(t *testing.T) {
	svc, clk, mint := setup(t)
	ctx := context.Background()
	_, tok, _ := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	_, first, err := svc.Refresh(ctx, tok, mint)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(9 * time.Second)
	_, again, err := svc.Refresh(ctx, tok, mint)
	if err != nil {
		t.Fatalf("retry inside grace: %v", err)
	}
	if *again != *first {
		t.Fatalf("retry got another pair:\n%+v\n%+v", again, first)
	}
	// The successor still works: the family is intact.
	if _, _, err := svc.Refresh(ctx, first.RefreshToken, mint); err != nil {
		t.Fatalf("successor after a grace retry: %v", err)
	}
}

func TestRule12_ReuseAfterGraceRevokesFamily(t *testing.T) {
	svc, clk, mint := setup(t)
	ctx := context.Background()
	fam, tok, _ := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	_, pair, err := svc.Refresh(ctx, tok, mint)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(11 * time.Second)
	if _, _, err := svc.Refresh(ctx, tok, mint); !errors.Is(err, refresh.ErrReused) {
		t.Fatalf("replay after grace: want ErrReused, got %v", err)
	}
	// The whole family is gone: the legitimate successor too.
	if _, _, err := svc.Refresh(ctx, pair.RefreshToken, mint); !errors.Is(err, refresh.ErrInvalid) {
		t.Fatalf("successor after reuse: want ErrInvalid, got %v", err)
	}
	// And its access tokens are denied.
	if d, err := svc.Denied(ctx, "any-jti", fam.ID, ""); err != nil || !d {
		t.Fatalf("family's access tokens not denied: %v %v", d, err)
	}
}

func TestRule12_OlderSpentTokenRevokesEvenInsideGrace(t *testing.T) {
	svc, _, mint := setup(t)
	ctx := context.Background()
	_, t0, _ := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	_, p1, _ := svc.Refresh(ctx, t0, mint)
	_, p2, err := svc.Refresh(ctx, p1.RefreshToken, mint)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Refresh(ctx, t0, mint); !errors.Is(err, refresh.ErrReused) {
		t.Fatalf("generation-0 token replayed: want ErrReused, got %v", err)
	}
	if _, _, err := svc.Refresh(ctx, p2.RefreshToken, mint); !errors.Is(err, refresh.ErrInvalid) {
		t.Fatalf("family survived: %v", err)
	}
}

func TestRule12_ConcurrentRefreshesNeverDiverge(t *testing.T) {
	svc, _, mint := setup(t)
	ctx := context.Background()
	_, tok, _ := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	const n = 20
	pairs := make([]*refresh.Pair, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, p, err := svc.Refresh(ctx, tok, mint)
			if err != nil {
				t.Errorf("concurrent refresh: %v", err)
				return
			}
			pairs[i] = p
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if pairs[i] == nil || *pairs[i] != *pairs[0] {
			t.Fatalf("refresh %d got a different pair: two live branches", i)
		}
	}
}

func TestRule12_IdleAndAbsoluteExpiry(t *testing.T) {
	svc, clk, mint := setup(t)
	ctx := context.Background()
	_, tok, _ := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	clk.Advance(7*24*time.Hour + time.Second)
	if _, _, err := svc.Refresh(ctx, tok, mint); !errors.Is(err, refresh.ErrInvalid) {
		t.Fatalf("idle family refreshed: %v", err)
	}
	_, tok, _ = svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	for range 4 { // used every 6 days: alive past one idle period
		clk.Advance(6 * 24 * time.Hour)
		_, p, err := svc.Refresh(ctx, tok, mint)
		if err != nil {
			t.Fatalf("active family: %v", err)
		}
		tok = p.RefreshToken
	}
	clk.Advance(6*24*time.Hour + time.Second) // day 30 and a second: past the absolute expiry, not idle
	if _, _, err := svc.Refresh(ctx, tok, mint); !errors.Is(err, refresh.ErrInvalid) {
		t.Fatalf("past absolute expiry: %v", err)
	}
}

func TestRule13_RevokeTokenEndsFamily(t *testing.T) {
	svc, _, mint := setup(t)
	ctx := context.Background()
	fam, tok, _ := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	if ok, err := svc.RevokeToken(ctx, tok, "someone-else"); ok || err != nil {
		t.Fatalf("another user revoked the token: %v %v", ok, err)
	}
	if ok, err := svc.RevokeToken(ctx, "garbage", ""); ok || err != nil {
		t.Fatalf("garbage: %v %v", ok, err)
	}
	if ok, err := svc.RevokeToken(ctx, tok, "u1"); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if _, _, err := svc.Refresh(ctx, tok, mint); !errors.Is(err, refresh.ErrInvalid) {
		t.Fatalf("revoked token refreshed: %v", err)
	}
	if d, _ := svc.Denied(ctx, "x", fam.ID, ""); !d {
		t.Fatal("access tokens of the revoked family not denied")
	}
}

func TestMalformedTokensAreInvalid(t *testing.T) {
	svc, _, mint := setup(t)
	for _, tok := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "€€€"} {
		if _, _, err := svc.Refresh(context.Background(), tok, mint); !errors.Is(err, refresh.ErrInvalid) {
			t.Fatalf("%q: %v", tok, err)
		}
	}
}

// Removing a client ends its families and, through one denylist entry, the
// access tokens issued to it; other clients' tokens are untouched.
func TestRevokeClient_EndsFamiliesAndAccessTokens(t *testing.T) {
	svc, clk, mint := setup(t)
	ctx := context.Background()
	fam, tok, err := svc.Start(ctx, "u1", "app", "", refresh.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	_, keep, err := svc.Start(ctx, "u1", "other", "", refresh.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := svc.RevokeClient(ctx, "app"); err != nil || n != 1 {
		t.Fatalf("revoke client: %d %v", n, err)
	}
	if _, _, err := svc.Refresh(ctx, tok, mint); !errors.Is(err, refresh.ErrInvalid) {
		t.Fatalf("refresh of a removed client's token: want ErrInvalid, got %v", err)
	}
	if d, err := svc.Denied(ctx, "any-jti", "", "app"); err != nil || !d {
		t.Fatalf("access token of a removed client: denied %v %v", d, err)
	}
	if d, err := svc.Denied(ctx, "any-jti", fam.ID+"x", "other"); err != nil || d {
		t.Fatalf("another client's access token: denied %v %v", d, err)
	}
	if _, _, err := svc.Refresh(ctx, keep, mint); err != nil {
		t.Fatalf("another client's family: %v", err)
	}
	if r, err := svc.ClientRevoked(ctx, "app"); err != nil || !r {
		t.Fatalf("client revoked: %v %v", r, err)
	}
	// The entry lasts as long as the client's access tokens could.
	clk.Advance(15*time.Minute + time.Minute + time.Second)
	if r, _ := svc.ClientRevoked(ctx, "app"); r {
		t.Fatal("the client's denylist entry outlived its access tokens")
	}
}

// TestStart_FamilyCarriesAssurance: a family keeps the assurance of its
// login through rotations, so the access tokens minted on refresh can carry
// it; without one it is one factor (a password) at the login.
func TestStart_FamilyCarriesAssurance(t *testing.T) {
	svc, clk, _ := setup(t)
	ctx := context.Background()
	strong := session.Assurance{}.Add(clk.Now(), session.FactorPassword).Add(clk.Now(), session.FactorOTP)
	_, tok, err := svc.Start(ctx, "alice", "app", "openid", refresh.Meta{Assurance: strong})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	var minted session.Assurance
	mint := func(_ context.Context, f *refresh.Family) (string, time.Time, error) {
		minted = f.Assurance
		return "access", clk.Now().Add(time.Minute), nil
	}
	f, _, err := svc.Refresh(ctx, tok, mint)
	if err != nil {
		t.Fatal(err)
	}
	if !minted.Equal(strong) || !f.Assurance.Equal(strong) {
		t.Fatalf("assurance at refresh: minted %+v, family %+v; want %+v", minted, f.Assurance, strong)
	}
	plain, _, err := svc.Start(ctx, "bob", "app", "openid", refresh.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if want := session.OneFactor("", clk.Now()); !plain.Assurance.Equal(want) || plain.Assurance.AAL != session.AAL1 {
		t.Fatalf("default assurance %+v, want %+v", plain.Assurance, want)
	}
}
