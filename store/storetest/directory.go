package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/mail"
	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/oidc/op"
)

// DirectoryStore is what operators' user administration needs from the
// durable users store: users, the account.Directory extension, and the
// records about a user that erasure must remove.
type DirectoryStore interface {
	account.Store
	account.Directory
	account.TokenStore
	mfa.Store
	oidc.IdentityStore
	op.ConsentStore
}

// RunDirectory runs the conformance suite of account.Directory: search by
// every filter, cursor paging through a parallel create burst (no user
// twice, none missing), and erasure that leaves nothing behind, with one
// winner in a parallel burst. newStore may return a shared database: the
// suite names its users and organisations uniquely.
func RunDirectory(t *testing.T, newStore func(t *testing.T) DirectoryStore) {
	ctx := context.Background()
	create := func(t *testing.T, st DirectoryStore, id, org string, roles []string, disabled bool) *account.User {
		t.Helper()
		u := newUser(id)
		u.OrgID, u.Roles, u.Disabled = org, roles, disabled
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatalf("create user: %v", err)
		}
		return u
	}
	ids := func(us []*account.User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}

	t.Run("SearchByEveryFilter", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		org := uniq("org-search")
		a := create(t, st, uniq("dir-a"), org, []string{"admin"}, false)
		b := create(t, st, uniq("dir-b"), org, []string{"dev"}, true)
		yes, no := true, false
		for _, tc := range []struct {
			name string
			q    account.UserQuery
			want []string
		}{
			{"org", account.UserQuery{OrgID: org}, []string{a.ID, b.ID}},
			{"email prefix", account.UserQuery{OrgID: org, EmailPrefix: a.Email[:len(a.Email)-5]}, []string{a.ID}},
			{"email prefix exact", account.UserQuery{EmailPrefix: b.Email}, []string{b.ID}},
			{"email prefix with LIKE wildcards", account.UserQuery{OrgID: org, EmailPrefix: "dir-%"}, nil},
			{"role", account.UserQuery{OrgID: org, Role: "dev"}, []string{b.ID}},
			{"role is not a substring", account.UserQuery{OrgID: org, Role: "adm"}, nil},
			{"disabled", account.UserQuery{OrgID: org, Disabled: &yes}, []string{b.ID}},
			{"enabled", account.UserQuery{OrgID: org, Disabled: &no}, []string{a.ID}},
			{"all filters", account.UserQuery{OrgID: org, Role: "admin", Disabled: &no, EmailPrefix: "dir-a"}, []string{a.ID}},
			{"unknown org", account.UserQuery{OrgID: org + "x"}, nil},
		} {
			got, err := st.ListUsers(ctx, tc.q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			want := tc.want
			if len(want) == 2 && want[0] > want[1] {
				want = []string{want[1], want[0]}
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(want) {
				t.Errorf("%s: got %v, want %v", tc.name, ids(got), want)
			}
		}
		got, err := st.ListUsers(ctx, account.UserQuery{OrgID: org, Limit: 1})
		if err != nil || len(got) != 1 || got[0].PasswordHash != a.PasswordHash || got[0].Email == "" {
			t.Fatalf("a listed user is the whole user: %+v, %v", got, err)
		}
	})

	t.Run("PagingThroughParallelBurst", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		org := uniq("org-page")
		const n = 40
		want := map[string]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := newUser(fmt.Sprintf("%s-%02d", uniq("page"), i))
				u.OrgID = org
				if err := st.CreateUser(ctx, u); err != nil {
					t.Errorf("create user: %v", err)
					return
				}
				mu.Lock()
				want[u.ID] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		after := ""
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("paging does not end")
			}
			page, err := st.ListUsers(ctx, account.UserQuery{OrgID: org, After: after, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, u := range page {
				if seen[u.ID] {
					t.Errorf("user %s listed twice", u.ID)
				}
				if u.ID <= after {
					t.Errorf("user %s not after the cursor %s", u.ID, after)
				}
				seen[u.ID] = true
				after = u.ID
			}
		}
		for id := range want {
			if !seen[id] {
				t.Errorf("user %s never listed", id)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("listed %d users, created %d", len(seen), len(want))
		}
	})

	t.Run("LimitIsBounded", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ in, want int }{{0, account.DefaultListLimit}, {-3, account.DefaultListLimit},
			{1, 1}, {account.MaxListLimit + 1, account.MaxListLimit}} {
			if got := (account.UserQuery{Limit: tc.in}).PageLimit(); got != tc.want {
				t.Errorf("limit %d: got %d, want %d", tc.in, got, tc.want)
			}
		}
	})

	t.Run("DeleteLeavesNothing", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := create(t, st, uniq("erase"), uniq("org-erase"), []string{"dev"}, false)
		other := create(t, st, uniq("keep"), uniq("org-keep"), nil, false)
		tok := accountToken(account.PurposeRecovery, time.Hour)
		tok.UserID = u.ID
		otherTok := accountToken(account.PurposeRecovery, time.Hour)
		otherTok.UserID = other.ID
		issuer, subject := "https://idp.example", uniq("sub")
		for _, err := range []error{
			st.PutToken(ctx, tok), st.PutToken(ctx, otherTok),
			st.LinkIdentity(ctx, issuer, subject, u.ID), st.LinkIdentity(ctx, issuer, subject+"-other", other.ID),
			st.PutConsent(ctx, u.ID, "app", []string{"openid"}), st.PutConsent(ctx, other.ID, "app", []string{"openid"}),
			st.PutTOTP(ctx, mfa.TOTPCredential{UserID: u.ID, Sealed: []byte("sealed"), CreatedAt: time.Now().UTC()}),
			st.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{[]byte("0123456789abcdef0123456789abcdef")}),
		} {
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
		}
		if _, err := st.UserByID(ctx, u.ID); err != nil { // warm any near cache
			t.Fatal(err)
		}

		const burst = 8
		errs := make(chan error, burst)
		var wg sync.WaitGroup
		for range burst {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- st.DeleteUser(ctx, u.ID) }()
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, account.ErrNotFound):
				t.Errorf("concurrent delete: %v, want ErrNotFound", err)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d concurrent deletes succeeded, want exactly 1", won, burst)
		}

		notFound := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, account.ErrNotFound) {
				t.Errorf("%s after erasure: %v, want ErrNotFound", what, err)
			}
		}
		_, err := st.UserByID(ctx, u.ID)
		notFound("user by id", err)
		_, err = st.UserByEmail(ctx, u.Email)
		notFound("user by email", err)
		_, err = st.PeekToken(ctx, tok.Hash, tok.Purpose)
		notFound("account token", err)
		_, err = st.IdentityUser(ctx, issuer, subject)
		notFound("identity link", err)
		_, err = st.Consent(ctx, u.ID, "app")
		notFound("consent", err)
		_, err = st.GetTOTP(ctx, u.ID)
		notFound("totp", err)
		if n, err := st.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 0 {
			t.Errorf("recovery codes after erasure: %d, %v", n, err)
		}
		if got, err := st.ListUsers(ctx, account.UserQuery{OrgID: u.OrgID}); err != nil || len(got) != 0 {
			t.Errorf("listed after erasure: %v, %v", ids(got), err)
		}
		notFound("second delete", st.DeleteUser(ctx, u.ID))

		// The neighbour keeps everything.
		if _, err := st.UserByID(ctx, other.ID); err != nil {
			t.Errorf("other user: %v", err)
		}
		if _, err := st.PeekToken(ctx, otherTok.Hash, otherTok.Purpose); err != nil {
			t.Errorf("other user's token: %v", err)
		}
		if id, err := st.IdentityUser(ctx, issuer, subject+"-other"); err != nil || id != other.ID {
			t.Errorf("other user's link: %q, %v", id, err)
		}
		if _, err := st.Consent(ctx, other.ID, "app"); err != nil {
			t.Errorf("other user's consent: %v", err)
		}
		// The address is free again.
		again := newUser("again")
		again.Email = u.Email
		if err := st.CreateUser(ctx, again); err != nil {
			t.Errorf("the erased address cannot be registered again: %v", err)
		}
	})
}

// RunDirectoryOutbox checks that erasing a user drops the mail waiting in
// ob for their address and keeps everyone else's. ob must start empty and
// be the outbox of st's database.
func RunDirectoryOutbox(t *testing.T, st DirectoryStore, ob mail.Outbox) {
	ctx := context.Background()
	u, other := newUser(uniq("mail-erase")), newUser(uniq("mail-keep"))
	now := time.Now().UTC()
	for _, x := range []*account.User{u, other} {
		if err := st.CreateUser(ctx, x); err != nil {
			t.Fatal(err)
		}
		m := &mail.Message{ID: uniq("m") + x.ID, Kind: "recovery", To: x.Email, Subject: "s", Text: "t",
			CreatedAt: now, NotBefore: now}
		if err := ob.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := ob.Pending(ctx); err != nil || n != 1 {
		t.Fatalf("pending mail after erasing one of two recipients: %d, %v; want 1", n, err)
	}
	got, err := ob.Claim(ctx, now.Add(time.Minute), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].To != other.Email {
		t.Fatalf("claimed %+v, %v; want only the other user's mail", got, err)
	}
}
