package redisstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

func testSession() *session.Session {
	now := time.UnixMilli(1_750_000_000_123).UTC()
	return &session.Session{
		ID: "AAAAAAAAAAAAAAAAAAAAAA", Hash: bytes.Repeat([]byte{7}, 32), UserID: "u_1",
		CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour),
		IP: "192.0.2.1", UserAgent: "ua", Method: "password", Data: []byte(`{"a":1}`), DataVersion: 3,
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	s := testSession()
	b, err := encodeRecord(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != recordHeader+len("u_1")+32+len("192.0.2.1")+len("ua")+len("password")+2+assuranceFixed+len(`{"a":1}`) {
		t.Fatalf("record is %d bytes", len(b))
	}
	got, err := decodeRecord(s.ID, string(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != s.UserID || !bytes.Equal(got.Hash, s.Hash) || !got.CreatedAt.Equal(s.CreatedAt) ||
		!got.IdleExpiresAt.Equal(s.IdleExpiresAt) || !got.ExpiresAt.Equal(s.ExpiresAt) || got.IP != s.IP ||
		got.UserAgent != s.UserAgent || got.Method != s.Method || string(got.Data) != string(s.Data) ||
		got.DataVersion != s.DataVersion || got.ID != s.ID {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, s)
	}
	s.Data, s.IdleExpiresAt = nil, time.Time{}
	b, _ = encodeRecord(s)
	got, _ = decodeRecord(s.ID, string(b))
	if got.Data != nil || !got.IdleExpiresAt.IsZero() {
		t.Fatalf("empty data / zero time: %+v", got)
	}
}

// FuzzDecodeRecord: no stored bytes, however damaged, make decodeRecord
// panic; what it accepts re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	b, _ := encodeRecord(testSession())
	f.Add(b)
	f.Add(b[:recordHeader])
	f.Add([]byte{})
	f.Add([]byte{recordV1})
	f.Fuzz(func(t *testing.T, rec []byte) {
		s, err := decodeRecord("id", string(rec))
		if err != nil {
			return
		}
		again, err := encodeRecord(s)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		// Zero-time and UTC normalisation aside, the bytes round-trip.
		s2, err := decodeRecord("id", string(again))
		if err != nil || s2.UserID != s.UserID || s2.DataVersion != s.DataVersion || !bytes.Equal(s2.Data, s.Data) {
			t.Fatalf("re-decode: %+v %v", s2, err)
		}
	})
}
