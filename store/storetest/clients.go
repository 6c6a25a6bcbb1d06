package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sessiond/sessiond/client"
)

// newClient returns a confidential client with every field set and a
// unique ID starting with prefix.
func newClient(prefix string) *client.Client {
	return &client.Client{
		ID:         uniq(prefix),
		Name:       "Storetest app ☕",
		SecretHash: client.HashSecret("storetest-secret-0123456789-abcdefghij"),
		FirstParty: true,
		Grants: []string{client.GrantAuthorizationCode, client.GrantRefreshToken, client.GrantClientCredentials,
			client.GrantTokenExchange, client.GrantPassword},
		Audiences:            []string{"https://api.example.com", "billing"},
		Scopes:               []string{"openid", "profile", "api:read"},
		RedirectURIs:         []string{"https://app.example.com/callback?x=1&y=2", "http://127.0.0.1:8000/cb"},
		BackchannelLogoutURI: "https://app.example.com/backchannel-logout",
		CreatedAt:            time.Now().UTC().Truncate(time.Millisecond),
	}
}

// equateEmpty lets a backend return nil or empty lists alike.
var equateEmpty = cmpopts.EquateEmpty()

// RunClients runs the OAuth client-store conformance suite. newStore is
// called once per subtest; it may return a store shared with other tests,
// since the suite names its clients uniquely and looks only at its own.
func RunClients(t *testing.T, newStore func(t *testing.T) client.Store) {
	ctx := context.Background()

	t.Run("CreateAndGetRoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		c := newClient("c")
		if err := client.Validate(c); err != nil {
			t.Fatalf("suite's client is invalid: %v", err)
		}
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatalf("create: %v", err)
		}
		got, err := st.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c, got); d != "" {
			t.Fatalf("get (-want +got):\n%s", d)
		}
		if !got.CheckSecret("storetest-secret-0123456789-abcdefghij") {
			t.Fatal("stored client does not accept its secret")
		}
	})

	t.Run("PublicClientWithEmptyLists", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		c := &client.Client{ID: uniq("pub"), Public: true, Grants: []string{client.GrantAuthorizationCode},
			RedirectURIs: []string{"https://spa.example.com/cb"}, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c, got, equateEmpty); d != "" {
			t.Fatalf("get (-want +got):\n%s", d)
		}
		if len(got.SecretHash) != 0 || got.CheckSecret("") {
			t.Fatalf("public client came back with a secret: %x", got.SecretHash)
		}
	})

	t.Run("StoreKeepsItsOwnCopy", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		c := newClient("copy")
		want := c.Clone()
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		c.Grants[0], c.RedirectURIs[0], c.SecretHash[0] = "x", "x", c.SecretHash[0]^0xff
		got, err := st.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		got.Audiences[0] = "x"
		again, err := st.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, again); d != "" {
			t.Fatalf("stored client changed through a caller's pointer (-want +got):\n%s", d)
		}
	})

	t.Run("DuplicateIDConflicts", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		c := newClient("dup")
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		d := newClient("other")
		d.ID, d.Name = c.ID, "impostor"
		if err := st.CreateClient(ctx, d); !errors.Is(err, client.ErrConflict) {
			t.Fatalf("want ErrConflict, got %v", err)
		}
		got, err := st.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != c.Name {
			t.Fatalf("the conflicting create overwrote the client: name %q", got.Name)
		}
	})

	t.Run("ConcurrentCreateOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		id := uniq("race")
		const n = 16
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := newClient("race")
				c.ID = id
				switch err := st.CreateClient(ctx, c); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, client.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("create: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != n-1 {
			t.Fatalf("%d winners and %d conflicts, want 1 and %d", wins.Load(), conflicts.Load(), n-1)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		if _, err := st.GetClient(ctx, uniq("nobody")); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("get: want ErrNotFound, got %v", err)
		}
		if err := st.DeleteClient(ctx, uniq("nobody")); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("delete: want ErrNotFound, got %v", err)
		}
	})

	t.Run("ListAndDelete", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		prefix := uniq("list") + "-"
		// Created out of order; listed by ID.
		var want []*client.Client
		for _, suffix := range []string{"b", "c", "a"} {
			c := newClient("x")
			c.ID = prefix + suffix
			if suffix == "c" {
				c.Public, c.SecretHash, c.Audiences = true, nil, nil
			}
			if err := st.CreateClient(ctx, c); err != nil {
				t.Fatal(err)
			}
			want = append(want, c)
		}
		slices.SortFunc(want, func(a, b *client.Client) int { return strings.Compare(a.ID, b.ID) })
		mine := func() []*client.Client {
			t.Helper()
			all, err := st.ListClients(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSortedFunc(all, func(a, b *client.Client) int { return strings.Compare(a.ID, b.ID) }) {
				t.Fatal("list is not ordered by ID")
			}
			var out []*client.Client
			for _, c := range all {
				if strings.HasPrefix(c.ID, prefix) {
					out = append(out, c)
				}
			}
			return out
		}
		if d := cmp.Diff(want, mine(), equateEmpty); d != "" {
			t.Fatalf("list (-want +got):\n%s", d)
		}
		if err := st.DeleteClient(ctx, prefix+"b"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := st.GetClient(ctx, prefix+"b"); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("get after delete: want ErrNotFound, got %v", err)
		}
		if err := st.DeleteClient(ctx, prefix+"b"); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("second delete: want ErrNotFound, got %v", err)
		}
		if d := cmp.Diff([]*client.Client{want[0], want[2]}, mine(), equateEmpty); d != "" {
			t.Fatalf("list after delete (-want +got):\n%s", d)
		}
		// The ID is free again.
		if err := st.CreateClient(ctx, want[1]); err != nil {
			t.Fatalf("re-create after delete: %v", err)
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		c := newClient("ctx")
		if err := st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := st.CreateClient(cctx, newClient("ctx")); !errors.Is(err, context.Canceled) {
			t.Fatalf("create: want context.Canceled, got %v", err)
		}
		if _, err := st.GetClient(cctx, c.ID); !errors.Is(err, context.Canceled) {
			t.Fatalf("get: want context.Canceled, got %v", err)
		}
		if _, err := st.ListClients(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("list: want context.Canceled, got %v", err)
		}
		if err := st.DeleteClient(cctx, c.ID); !errors.Is(err, context.Canceled) {
			t.Fatalf("delete: want context.Canceled, got %v", err)
		}
		if _, err := st.GetClient(ctx, c.ID); err != nil {
			t.Fatalf("a canceled delete removed the client: %v", err)
		}
	})
}
