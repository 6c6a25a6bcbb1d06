package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
)

func aal2(now time.Time) session.Assurance {
	return session.Assurance{AAL: session.AAL2, AMR: []string{"pwd", "otp", "mfa"},
		AuthTime: now.Add(time.Minute), AAL2Time: now.Add(2 * time.Minute)}
}

// asV1 turns a format-2 record (session or family) into the format-1 record
// an older sessiond wrote: no assurance block, format byte 1.
func asV1(t *testing.T, rec []byte, blockAt int) []byte {
	t.Helper()
	n := int(rec[blockAt])<<8 | int(rec[blockAt+1])
	out := append([]byte{1}, rec[1:blockAt]...)
	return append(out, rec[blockAt+2+n:]...)
}

// TestRecords_AssuranceRoundTripAndV1: the assurance survives encoding in
// both record formats' successor, and a format-1 record still decodes, with
// the zero Assurance.
func TestRecords_AssuranceRoundTripAndV1(t *testing.T) {
	t.Parallel()
	s := testSession()
	s.Assurance = aal2(s.CreatedAt)
	b, err := encodeRecord(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord(s.ID, string(b))
	if err != nil || !got.Assurance.Equal(s.Assurance) || string(got.Data) != string(s.Data) {
		t.Fatalf("session round trip: %+v, %v", got, err)
	}
	at := recordHeader + len(s.UserID) + len(s.Hash) + len(s.IP) + len(s.UserAgent) + len(s.Method)
	old, err := decodeRecord(s.ID, string(asV1(t, b, at)))
	if err != nil || old.Assurance.AAL != 0 || old.Assurance.AMR != nil || string(old.Data) != string(s.Data) || old.UserID != s.UserID {
		t.Fatalf("format 1 session: %+v, %v", old, err)
	}
	if _, err := encodeRecord(&session.Session{Assurance: session.Assurance{AMR: []string{"a b"}}}); err == nil {
		t.Fatal("an amr value with a space was encoded")
	}

	f := &refresh.Family{ID: "f_1", UserID: "alice", ClientID: "app", Scope: "openid", CreatedAt: s.CreatedAt,
		ExpiresAt: s.ExpiresAt, LastUsedAt: s.CreatedAt, UserAgent: "ua", Data: []byte(`{"b":2}`), Assurance: aal2(s.CreatedAt)}
	fb, err := encodeFamily(f)
	if err != nil {
		t.Fatal(err)
	}
	gf, err := decodeFamily(f.ID, string(fb))
	if err != nil || !gf.Assurance.Equal(f.Assurance) || string(gf.Data) != string(f.Data) {
		t.Fatalf("family round trip: %+v, %v", gf, err)
	}
	fat := familyHeader + len(f.UserID) + len(f.ClientID) + len(f.Scope) + len(f.IP) + len(f.UserAgent)
	of, err := decodeFamily(f.ID, string(asV1(t, fb, fat)))
	if err != nil || of.Assurance.AAL != 0 || string(of.Data) != string(f.Data) || of.Scope != "openid" {
		t.Fatalf("format 1 family: %+v, %v", of, err)
	}
}

// TestV1Records_StillWorkInRedis: records written by an older sessiond
// (format 1, no assurance) are read, touched and have their data replaced by
// the scripts of this one, through a real redis-server; and the data
// scripts skip the assurance block of new records.
func TestV1Records_StillWorkInRedis(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	st, err := Open(ctx, r.URL, Options{Prefix: fmt.Sprintf("v1%d:", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	set := func(key string, rec []byte) {
		t.Helper()
		if err := st.c.Do(ctx, st.c.B().Set().Key(key).Value(rueidis.BinaryString(rec)).Keepttl().Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}

	for _, legacy := range []bool{false, true} {
		s := &session.Session{ID: session.IDFromHash(bytes.Repeat([]byte{byte(len(fmt.Sprint(legacy)))}, 32)),
			Hash: bytes.Repeat([]byte{byte(len(fmt.Sprint(legacy)))}, 32), UserID: "alice", CreatedAt: now,
			LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour), Method: "password",
			Data: []byte(`{"a":1}`), Assurance: aal2(now)}
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		want := s.Assurance
		if legacy {
			b, _ := encodeRecord(s)
			set(st.sessionKey(s.ID), asV1(t, b, recordHeader+len(s.UserID)+len(s.Hash)+len(s.Method)))
			want = session.Assurance{}
		}
		if _, err := st.SetData(ctx, s.ID, []byte(`{"z":26}`), 0); err != nil {
			t.Fatal(err)
		}
		if err := st.Touch(ctx, s.ID, now.Add(time.Minute), now.Add(61*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil || string(got.Data) != `{"z":26}` || got.DataVersion != 1 || !got.Assurance.Equal(want) ||
			got.Method != "password" || !got.LastSeenAt.Equal(now.Add(time.Minute)) {
			t.Fatalf("legacy=%v session: %+v, %v", legacy, got, err)
		}

		f := &refresh.Family{ID: "f_" + fmt.Sprint(legacy), UserID: "alice", ClientID: "app", Scope: "openid",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastUsedAt: now, Assurance: aal2(now)}
		first := &refresh.Token{ID: "t_" + fmt.Sprint(legacy), Hash: bytes.Repeat([]byte{9}, 32), FamilyID: f.ID}
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
		want = f.Assurance
		if legacy {
			b, _ := encodeFamily(f)
			set(st.familyKey(f.ID), asV1(t, b, familyHeader+len(f.UserID)+len(f.ClientID)+len(f.Scope)))
			want = session.Assurance{}
		}
		if _, err := st.SetFamilyData(ctx, f.ID, []byte(`{"y":25}`), 0); err != nil {
			t.Fatal(err)
		}
		gf, err := st.GetFamily(ctx, f.ID)
		if err != nil || string(gf.Data) != `{"y":25}` || !gf.Assurance.Equal(want) || gf.Scope != "openid" {
			t.Fatalf("legacy=%v family: %+v, %v", legacy, gf, err)
		}
	}
}
