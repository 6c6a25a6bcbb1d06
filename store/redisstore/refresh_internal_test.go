package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
)

func TestFamilyAndTokenRecords(t *testing.T) {
	now := time.UnixMilli(1_750_000_000_123).UTC()
	f := &refresh.Family{ID: "f_1", UserID: "alice", ClientID: "app", Scope: "openid", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), LastUsedAt: now, IdleExpiresAt: now.Add(time.Minute), IP: "192.0.2.1",
		UserAgent: "ua", Generation: 3, Data: []byte(`{"a":1}`), DataVersion: 9}
	b, err := encodeFamily(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := decodeFamily(f.ID, string(b))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*g) != fmt.Sprint(*f) {
		t.Fatalf("family:\n got %+v\nwant %+v", g, f)
	}
	for _, n := range []int{0, 1, familyHeader - 1, familyHeader, len(b) - len(f.Data) - 1} {
		if _, err := decodeFamily(f.ID, string(b[:n])); !errors.Is(err, errCorruptFamily) {
			t.Fatalf("family cut at %d: %v", n, err)
		}
	}

	tok := &refresh.Token{ID: "t1", Hash: bytes.Repeat([]byte{7}, 32), Generation: 3}
	tb, err := encodeToken(tok, f.ID, f.UserID, ms(f.ExpiresAt))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := decodeToken(tok.ID, string(tb))
	if err != nil {
		t.Fatal(err)
	}
	if rec.tok.FamilyID != f.ID || rec.userID != "alice" || rec.expires != ms(f.ExpiresAt) || rec.next != nil ||
		rec.tok.Sealed != nil || !rec.tok.SpentAt.IsZero() || !bytes.Equal(rec.tok.Hash, tok.Hash) || rec.tok.Generation != 3 {
		t.Fatalf("live token: %+v", rec)
	}
	if _, err := decodeToken(tok.ID, string(tb[:len(tb)-1])); !errors.Is(err, errCorruptToken) {
		t.Fatalf("short token: %v", err)
	}
}

// crashing is a refresh.Backend whose Rotate dies after its first step
// (after "spend") or after advancing the family but before storing the
// successor ("advance"): the windows a node crash or a failing Redis node
// can leave open.
type crashing struct {
	*Store
	after string
}

var errCrash = fmt.Errorf("simulated crash: %w", session.ErrUnavailable)

func (c crashing) Rotate(ctx context.Context, oldID string, next *refresh.Token, sealed []byte, used, idle time.Time) (*refresh.Family, error) {
	rec, err := c.spend(ctx, "rotate", oldID, next, sealed, used, idle)
	if err != nil {
		return nil, err
	}
	if c.after == "advance" {
		if err := advanceScript.exec(ctx, c.c, c.familyKey(rec.tok.FamilyID), c.advanceArgs(rec)...).Error(); err != nil {
			return nil, err
		}
	}
	return nil, errCrash
}

func openInternal(t *testing.T, url string) *Store {
	t.Helper()
	st, err := Open(context.Background(), url, Options{Prefix: fmt.Sprintf("crash%d:", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRotateCrashWindow: Rotate's two steps are not atomic (they touch keys
// on different slots). Whatever step it dies after, a retry with the same
// token inside the grace window gets the sealed pair, whose refresh token
// works, and the family is not taken for reused; outside the window the
// retry is reuse and revokes the family, exactly as when a completed
// rotation's response is lost.
func TestRotateCrashWindow(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	mint := func(_ context.Context, f *refresh.Family) (string, time.Time, error) {
		return fmt.Sprintf("access-%s-%d", f.ID, f.Generation), time.Now().Add(time.Minute), nil
	}
	for _, after := range []string{"spend", "advance"} {
		for _, retryAfter := range []time.Duration{0, 2 * time.Second} {
			t.Run(fmt.Sprintf("after=%s/retry=%v", after, retryAfter), func(t *testing.T) {
				t.Parallel()
				st := openInternal(t, r.URL)
				ctx := context.Background()
				var skew time.Duration
				clock := func() time.Time { return time.Now().Add(skew) }
				broken, err := refresh.New(refresh.Config{Store: crashing{st, after}, Grace: time.Second, Now: clock})
				if err != nil {
					t.Fatal(err)
				}
				svc, err := refresh.New(refresh.Config{Store: st, Grace: time.Second, Now: clock})
				if err != nil {
					t.Fatal(err)
				}
				fam, tok, err := svc.Start(ctx, "alice", "app", "openid", refresh.Meta{})
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := broken.Refresh(ctx, tok, mint); !errors.Is(err, errCrash) {
					t.Fatalf("crashing refresh: %v", err)
				}
				skew = retryAfter
				f, pair, err := svc.Refresh(ctx, tok, mint)
				if retryAfter > time.Second {
					if !errors.Is(err, refresh.ErrReused) {
						t.Fatalf("retry outside the grace window: want ErrReused, got %v", err)
					}
					if _, err := st.GetFamily(ctx, fam.ID); !errors.Is(err, refresh.ErrNotFound) {
						t.Fatalf("family not revoked on reuse: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("retry inside the grace window: %v", err)
				}
				if f.Generation != 1 || pair.AccessToken != "access-"+fam.ID+"-0" {
					t.Fatalf("retry got family gen %d, pair %+v", f.Generation, pair)
				}
				// A second retry gets the same pair; the successor refreshes.
				if _, p2, err := svc.Refresh(ctx, tok, mint); err != nil || *p2 != *pair {
					t.Fatalf("second retry: %+v %v", p2, err)
				}
				f2, p3, err := svc.Refresh(ctx, pair.RefreshToken, mint)
				if err != nil || f2.Generation != 2 || p3.AccessToken != "access-"+fam.ID+"-1" {
					t.Fatalf("successor refresh: %+v %+v %v", f2, p3, err)
				}
				if list, err := st.Families(ctx, "alice"); err != nil || len(list) != 1 || list[0].Generation != 2 {
					t.Fatalf("families: %+v %v", list, err)
				}
			})
		}
	}
}

// TestRotateLateWinner: the winner's second step arriving after a
// LookupToken already finished the rotation (and after the successor was
// itself rotated) changes nothing.
func TestRotateLateWinner(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	st := openInternal(t, r.URL)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	f := &refresh.Family{ID: "f_late", UserID: "bob", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour)}
	t0 := &refresh.Token{ID: "t0", Hash: []byte("h0"), FamilyID: f.ID}
	if err := st.CreateFamily(ctx, f, t0); err != nil {
		t.Fatal(err)
	}
	t1 := &refresh.Token{ID: "t1", Hash: []byte("h1"), FamilyID: f.ID, Generation: 1}
	rec, err := st.spend(ctx, "test", t0.ID, t1, []byte("s0"), now, now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Someone looks the spent token up: the rotation is finished for it.
	got, fam, err := st.LookupToken(ctx, t0.ID)
	if err != nil || got.SpentAt.IsZero() || string(got.Sealed) != "s0" || fam.Generation != 1 {
		t.Fatalf("lookup of a half-rotated token: %+v %+v %v", got, fam, err)
	}
	// The successor is rotated in turn.
	t2 := &refresh.Token{ID: "t2", Hash: []byte("h2"), FamilyID: f.ID, Generation: 2}
	if fam, err := st.Rotate(ctx, t1.ID, t2, []byte("s1"), now.Add(time.Minute), now.Add(40*time.Minute)); err != nil || fam.Generation != 2 {
		t.Fatalf("rotate successor: %+v %v", fam, err)
	}
	// Now the first winner's second step: a no-op.
	fam, err = st.finishRotation(ctx, "test", rec, false)
	if err != nil || fam.Generation != 2 || !fam.IdleExpiresAt.Equal(now.Add(40*time.Minute)) {
		t.Fatalf("late second step: %+v %v", fam, err)
	}
	t1rec, _, err := st.LookupToken(ctx, t1.ID)
	if err != nil || t1rec.SpentAt.IsZero() || string(t1rec.Sealed) != "s1" {
		t.Fatalf("late second step overwrote the spent successor: %+v %v", t1rec, err)
	}
	// And after a revocation it neither resurrects the family nor its entry.
	if err := st.RevokeFamily(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.finishRotation(ctx, "test", rec, false); !errors.Is(err, refresh.ErrNotFound) {
		t.Fatalf("second step after revocation: %v", err)
	}
	if n := r.Do(t, "EXISTS", st.familyKey(f.ID)); n != "0" {
		t.Fatal("revoked family resurrected")
	}
	if s := r.Do(t, "ZSCORE", st.familiesKey("bob"), f.ID); s != "" {
		t.Fatal("revoked family back in the index")
	}
}
