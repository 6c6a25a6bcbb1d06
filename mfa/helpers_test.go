package mfa_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/token"
)

// hotp is RFC 4226 written out with crypto/hmac: the tests' own
// implementation, independent of the library the package uses.
func hotp(key []byte, counter uint64, digits int) string {
	mac := hmac.New(sha1.New, key)
	_ = binary.Write(mac, binary.BigEndian, counter)
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// authenticatorApp is what the user's app shows for a base32 secret at t:
// RFC 6238 with 30-second steps and 6 digits.
func authenticatorApp(secret string, at time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		panic(err)
	}
	return hotp(key, uint64(at.Unix()/30), 6)
}

// clock is a settable clock for Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// testKEK is the key-encryption key of the tests' sealers.
var testKEK = func() []byte {
	k := make([]byte, token.KEKSize)
	rand.Read(k)
	return k
}()

// testSealer is a token.Sealer under testKEK.
func testSealer(t testing.TB) *token.Sealer {
	t.Helper()
	s, err := token.NewSealer(testKEK)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rfcSecret is the RFC 4226 / RFC 6238 (SHA-1) test secret.
var rfcSecret = []byte("12345678901234567890")

// newTOTP returns a TOTP on a fresh memory store with clock c; with fixed,
// its enrolments get rfcSecret.
func newTOTP(t testing.TB, c *clock, fixed bool) (*mfa.TOTP, *mfa.Memory) {
	t.Helper()
	st := mfa.NewMemory()
	cfg := mfa.TOTPConfig{Issuer: "Example Corp", Sealer: testSealer(t), Steps: st, Now: c.Now}
	if fixed {
		cfg.Rand = &repeatReader{b: rfcSecret}
	}
	tp, err := mfa.NewTOTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tp, st
}

type repeatReader struct{ b []byte }

func (r *repeatReader) Read(p []byte) (int, error) {
	return copy(p, bytes.Repeat(r.b, len(p)/len(r.b)+1)), nil
}

// confirmedTOTP enrols u1 on a fresh TOTP at a fixed time (mid-step) and
// returns the credential already confirmed, its secret and the clock.
func confirmedTOTP(t testing.TB) (*mfa.TOTP, mfa.TOTPCredential, string, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 4, 5, 6, 15, 0, time.UTC)}
	tp, _ := newTOTP(t, c, false)
	e, err := tp.Enrol("u1", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cred := e.Credential
	cred.ConfirmedAt = c.Now()
	return tp, cred, e.Secret, c
}

// burst runs f 20 times at once and counts the calls that succeeded and
// those refused with want; any other error fails the test.
func burst(t *testing.T, want error, f func() error) (ok, refused int64) {
	t.Helper()
	var okN, refusedN atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Go(func() {
			<-start
			switch err := f(); {
			case err == nil:
				okN.Add(1)
			case errors.Is(err, want):
				refusedN.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	return okN.Load(), refusedN.Load()
}
