package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Default and minimum argon2id cost. The minimum is the OWASP / ASVS floor
// (m=19 MiB, t=2, p=1); NewHasher refuses anything below it unless
// Params.InsecureLowCost is set.
const (
	DefaultMemory  uint32 = 19456 // KiB (19 MiB)
	DefaultTime    uint32 = 2
	DefaultThreads uint8  = 1
)

// Upper bounds on argon2id parameters, both in a Params and in a stored PHC
// string. A hash claiming more is refused instead of being computed, so that a
// tampered or corrupted record cannot make one Verify allocate gigabytes or
// run for minutes.
const (
	MaxMemory uint32 = 4 << 20 // KiB (4 GiB)
	MaxTime   uint32 = 100
)

const (
	saltLen = 16 // bytes of salt in new hashes
	keyLen  = 32 // bytes of derived key in new hashes

	// Bounds accepted when reading a stored hash.
	minSaltLen, maxSaltLen = 8, 64
	minKeyLen, maxKeyLen   = 16, 64
)

// Params configures a Hasher. The zero value of each field means its default.
type Params struct {
	// Memory is the argon2id memory cost in KiB. Default and minimum 19456
	// (19 MiB); at most MaxMemory.
	Memory uint32
	// Time is the argon2id number of passes. Default and minimum 2; at most
	// MaxTime.
	Time uint32
	// Threads is the argon2id degree of parallelism (lanes). Default 1.
	Threads uint8
	// MaxConcurrent bounds how many hashes or verifications run at once;
	// others wait for a slot (or for their context to end). Peak memory is
	// about MaxConcurrent × Memory. Default runtime.GOMAXPROCS(0); negative
	// is an error.
	MaxConcurrent int
	// InsecureLowCost lets Memory and Time go below the ASVS floor
	// (m=19456, t=2, p=1). It exists only to keep tests fast: never set it in
	// production, as it makes stolen hashes cheap to crack.
	InsecureLowCost bool
}

// argonParams are the parameters of one argon2id computation.
type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
}

func (p argonParams) validate() error {
	switch {
	case p.time < 1:
		return errors.New("time must be at least 1")
	case p.time > MaxTime:
		return fmt.Errorf("time %d above the maximum %d", p.time, MaxTime)
	case p.threads < 1:
		return errors.New("threads must be at least 1")
	case p.memory < 8*uint32(p.threads):
		return fmt.Errorf("memory %d KiB below 8 KiB per thread", p.memory)
	case p.memory > MaxMemory:
		return fmt.Errorf("memory %d KiB above the maximum %d KiB", p.memory, MaxMemory)
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id. Create it with
// NewHasher. It is safe for concurrent use; at most Params.MaxConcurrent
// computations run at once.
type Hasher struct {
	params argonParams
	sem    chan struct{}
	dummy  string // a real hash of a random password, for VerifyDummy

	// derive computes argon2id; tests replace it to observe concurrency.
	derive func(password, salt []byte, p argonParams, keyLen uint32) []byte
}

func argon2id(password, salt []byte, p argonParams, keyLen uint32) []byte {
	return argon2.IDKey(password, salt, p.time, p.memory, p.threads, keyLen)
}

// NewHasher returns a Hasher for p, with zero fields replaced by their
// defaults. It returns an error when a parameter is out of range, in
// particular below the floor m=19456, t=2, p=1 unless p.InsecureLowCost is
// set. It computes one hash (for VerifyDummy), so it takes as long as Hash.
func NewHasher(p Params) (*Hasher, error) {
	ap := argonParams{memory: p.Memory, time: p.Time, threads: p.Threads}
	if ap.memory == 0 {
		ap.memory = DefaultMemory
	}
	if ap.time == 0 {
		ap.time = DefaultTime
	}
	if ap.threads == 0 {
		ap.threads = DefaultThreads
	}
	if err := ap.validate(); err != nil {
		return nil, fmt.Errorf("account: new hasher: %w", err)
	}
	if !p.InsecureLowCost && (ap.memory < DefaultMemory || ap.time < DefaultTime) {
		return nil, fmt.Errorf("account: new hasher: m=%d,t=%d is below the minimum m=%d,t=%d (InsecureLowCost is for tests only)",
			ap.memory, ap.time, DefaultMemory, DefaultTime)
	}
	n := p.MaxConcurrent
	switch {
	case n < 0:
		return nil, fmt.Errorf("account: new hasher: MaxConcurrent %d is negative", n)
	case n == 0:
		n = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: ap, sem: make(chan struct{}, n), derive: argon2id}

	var pw [32]byte
	rand.Read(pw[:]) // never returns an error; crashes the program on failure
	dummy, err := h.Hash(context.Background(), base64.RawStdEncoding.EncodeToString(pw[:]))
	if err != nil {
		return nil, fmt.Errorf("account: new hasher: dummy hash: %w", err)
	}
	h.dummy = dummy
	return h, nil
}

// acquire takes a computation slot, or returns ctx's error when ctx ends
// first (or has already ended).
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the argon2id hash of the NFKC-normalised password as a PHC
// string, $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, with a 16-byte salt
// from crypto/rand, a 32-byte key and unpadded standard base64. The password
// is never truncated. Hash waits for a free slot (see Params.MaxConcurrent);
// if ctx ends first it returns an error wrapping ctx.Err(). It is safe for
// concurrent use.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", fmt.Errorf("account: hash password: %w", err)
	}
	defer h.release()

	salt := make([]byte, saltLen)
	rand.Read(salt) // never returns an error; crashes the program on failure
	key := h.derive([]byte(norm.NFKC.String(password)), salt, h.params, keyLen)
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, a PHC string made by Hash
// (possibly with other parameters, which are read from the string). The
// password is NFKC-normalised first and the keys are compared in constant
// time. When ok is true, rehash reports that encoded is weaker than h's
// current parameters (memory, time, threads, salt or key length) and should be
// replaced by a fresh Hash. A malformed encoded string, or one whose
// parameters exceed MaxMemory or MaxTime, is an error (never a panic);
// so is ctx ending while Verify waits for a slot. It is safe for concurrent
// use.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, fmt.Errorf("account: verify password: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, fmt.Errorf("account: verify password: %w", err)
	}
	defer h.release()

	got := h.derive([]byte(norm.NFKC.String(password)), salt, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	rehash = p.memory < h.params.memory || p.time < h.params.time || p.threads < h.params.threads ||
		len(salt) < saltLen || len(want) < keyLen
	return true, rehash, nil
}

// VerifyDummy does the work of a Verify with h's parameters against a hash of
// a random password made by NewHasher, and discards the result. Call it when
// the user is unknown (or locked, or disabled) so that the response takes as
// long as for a wrong password, and timing does not reveal which accounts
// exist. It waits for a slot like Verify and returns early if ctx ends. It is
// safe for concurrent use.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _, _ = h.Verify(ctx, password, h.dummy)
}

var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p argonParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses $argon2id$v=19$m=M,t=T,p=P$salt$hash strictly: that
// field order, canonical decimals, unpadded canonical base64, and parameters
// within bounds.
func decodePHC(s string) (p argonParams, salt, key []byte, err error) {
	if len(s) > 512 {
		return p, nil, nil, errors.New("malformed hash: too long")
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" {
		return p, nil, nil, errors.New("malformed hash: want $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	}
	if f[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("malformed hash: unsupported algorithm %q", f[1])
	}
	v, ok := strings.CutPrefix(f[2], "v=")
	if !ok {
		return p, nil, nil, errors.New("malformed hash: missing version")
	}
	if ver, err := parseDecimal(v, 32); err != nil || ver != argon2.Version {
		return p, nil, nil, fmt.Errorf("malformed hash: unsupported version %q", v)
	}
	ps := strings.Split(f[3], ",")
	if len(ps) != 3 {
		return p, nil, nil, errors.New("malformed hash: want parameters m=M,t=T,p=P")
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(ps[i], name)
		if !ok {
			return p, nil, nil, fmt.Errorf("malformed hash: want parameter %q at position %d", name[:1], i+1)
		}
		bits := 32
		if name == "p=" {
			bits = 8
		}
		if vals[i], err = parseDecimal(v, bits); err != nil {
			return p, nil, nil, fmt.Errorf("malformed hash: parameter %s%q: %w", name, v, err)
		}
	}
	p = argonParams{memory: uint32(vals[0]), time: uint32(vals[1]), threads: uint8(vals[2])}
	if err := p.validate(); err != nil {
		return p, nil, nil, fmt.Errorf("malformed hash: %w", err)
	}
	if salt, err = decodeB64(f[4]); err != nil {
		return p, nil, nil, errors.New("malformed hash: salt is not unpadded base64")
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return p, nil, nil, fmt.Errorf("malformed hash: salt of %d bytes, want %d to %d", len(salt), minSaltLen, maxSaltLen)
	}
	if key, err = decodeB64(f[5]); err != nil {
		return p, nil, nil, errors.New("malformed hash: hash is not unpadded base64")
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return p, nil, nil, fmt.Errorf("malformed hash: hash of %d bytes, want %d to %d", len(key), minKeyLen, maxKeyLen)
	}
	return p, salt, key, nil
}

// decodeB64 decodes canonical unpadded standard base64. Unlike
// encoding/base64 alone it also refuses CR and LF, which the decoder skips.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return b64.DecodeString(s)
}

// parseDecimal parses a canonical unsigned decimal: digits only, no sign, no
// leading zero.
func parseDecimal(s string, bits int) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil || strconv.FormatUint(n, 10) != s {
		return 0, errors.New("not a canonical unsigned decimal in range")
	}
	return n, nil
}
