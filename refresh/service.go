package refresh

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Defaults for Config fields left zero.
const (
	DefaultTTL     = 30 * 24 * time.Hour
	DefaultIdleTTL = 7 * 24 * time.Hour
	DefaultGrace   = 10 * time.Second
)

// Config configures a Service.
type Config struct {
	// Store keeps families, tokens and the denylist. Required.
	Store Backend
	// TTL is a family's absolute lifetime (default 720h); IdleTTL ends a
	// family not refreshed for that long (default 168h).
	TTL, IdleTTL time.Duration
	// Grace is how long after a rotation a retry with the spent token gets
	// the same successor pair instead of revoking the family. Zero means
	// DefaultGrace (10s); negative means none.
	Grace time.Duration
	// AccessTTL is the access-token lifetime, used to deny a revoked
	// family's outstanding access tokens for as long as they could live.
	AccessTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of tokens. Default crypto/rand.Reader.
	Rand io.Reader
}

// Service issues, rotates and revokes refresh tokens. Safe for concurrent
// use.
type Service struct {
	cfg Config
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("refresh: new: no store")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.IdleTTL == 0 {
		cfg.IdleTTL = DefaultIdleTTL
	}
	switch {
	case cfg.Grace == 0:
		cfg.Grace = DefaultGrace
	case cfg.Grace < 0:
		cfg.Grace = 0
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Service{cfg: cfg}, nil
}

// Store returns the backend.
func (s *Service) Store() Backend { return s.cfg.Store }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// Meta describes the device a family starts on and how the user
// authenticated.
type Meta struct {
	IP, UserAgent string
	// Assurance is how strongly the user authenticated at this login. Zero
	// means one factor (a password), now: session.OneFactor("", now).
	Assurance session.Assurance
}

// Pair is what a refresh grants. AccessToken and AccessExpiresAt come from
// the caller's mint function; this package treats them as opaque.
type Pair struct {
	AccessToken     string    `json:"a"`
	AccessExpiresAt time.Time `json:"e"`
	RefreshToken    string    `json:"r"`
}

// Minter makes an access token for a family (its ID is the token's sid).
type Minter func(ctx context.Context, f *Family) (token string, expires time.Time, err error)

func (s *Service) newToken(familyID string, gen int64) (string, *Token, error) {
	tok, err := session.NewToken(s.cfg.Rand)
	if err != nil {
		return "", nil, fmt.Errorf("refresh: %w", err)
	}
	h := session.HashToken(tok)
	return tok, &Token{ID: session.IDFromHash(h), Hash: h, FamilyID: familyID, Generation: gen}, nil
}

// Start begins a family for a login and returns it with its first refresh
// token. The family carries meta.Assurance (zero: one factor, now).
func (s *Service) Start(ctx context.Context, userID, clientID, scope string, meta Meta) (*Family, string, error) {
	now := s.now()
	var idb [16]byte
	if _, err := io.ReadFull(s.cfg.Rand, idb[:]); err != nil {
		return nil, "", fmt.Errorf("refresh: start: %w", err)
	}
	f := &Family{
		ID: "f_" + base64.RawURLEncoding.EncodeToString(idb[:]), UserID: userID, ClientID: clientID, Scope: scope,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.TTL), LastUsedAt: now, IP: meta.IP, UserAgent: meta.UserAgent,
		Assurance: meta.Assurance.Clone(),
	}
	if f.Assurance.AAL == 0 {
		f.Assurance = session.OneFactor("", now)
	}
	f.IdleExpiresAt = minTime(now.Add(s.cfg.IdleTTL), f.ExpiresAt)
	tok, rec, err := s.newToken(f.ID, 0)
	if err != nil {
		return nil, "", err
	}
	if err := s.cfg.Store.CreateFamily(ctx, f, rec); err != nil {
		return nil, "", fmt.Errorf("refresh: start: %w", err)
	}
	return f, tok, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ErrInvalid is returned by Refresh for a token that is malformed, unknown,
// expired, or whose family was revoked: the token endpoint's invalid_grant.
var ErrInvalid = errors.New("refresh: invalid refresh token")

// Refresh spends tok and returns the successor pair, minting the access
// token with mint. A retry with the same token inside the grace window gets
// the same pair back. A spent token outside the window, or one that is not
// its family's latest spent token, revokes the whole family (its access
// tokens included) and returns ErrReused; callers answer invalid_grant.
func (s *Service) Refresh(ctx context.Context, tok string, mint Minter) (*Family, *Pair, error) {
	for attempt := 0; attempt < 2; attempt++ {
		rec, fam, err := s.lookup(ctx, tok)
		if err != nil {
			return nil, nil, err
		}
		now := s.now()
		if !rec.SpentAt.IsZero() {
			return s.spent(ctx, tok, rec, fam, now)
		}
		next, nextRec, err := s.newToken(fam.ID, rec.Generation+1)
		if err != nil {
			return nil, nil, err
		}
		access, exp, err := mint(ctx, fam)
		if err != nil {
			return nil, nil, fmt.Errorf("refresh: mint access token: %w", err)
		}
		pair := &Pair{AccessToken: access, AccessExpiresAt: exp, RefreshToken: next}
		sealed, err := seal(tok, rec.ID, pair)
		if err != nil {
			return nil, nil, err
		}
		idle := minTime(now.Add(s.cfg.IdleTTL), fam.ExpiresAt)
		nf, err := s.cfg.Store.Rotate(ctx, rec.ID, nextRec, sealed, now, idle)
		if errors.Is(err, ErrReused) {
			continue // lost a race: read the winner's sealed pair
		}
		if errors.Is(err, ErrNotFound) {
			return nil, nil, ErrInvalid
		}
		if err != nil {
			return nil, nil, fmt.Errorf("refresh: rotate: %w", err)
		}
		return nf, pair, nil
	}
	return nil, nil, ErrInvalid
}

// spent handles a token that was already used.
func (s *Service) spent(ctx context.Context, tok string, rec *Token, fam *Family, now time.Time) (*Family, *Pair, error) {
	latest := rec.Generation == fam.Generation-1
	if latest && now.Sub(rec.SpentAt) <= s.cfg.Grace && rec.Sealed != nil {
		pair, err := open(tok, rec.ID, rec.Sealed)
		if err == nil {
			return fam, pair, nil
		}
	}
	if err := s.RevokeFamily(ctx, fam.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	return fam, nil, ErrReused
}

// RevokeFamily ends a family and denies every access token it issued.
func (s *Service) RevokeFamily(ctx context.Context, familyID string) error {
	if err := s.cfg.Store.Deny(ctx, "sid:"+familyID, s.now().Add(s.cfg.AccessTTL+time.Minute)); err != nil {
		return fmt.Errorf("refresh: revoke family: %w", err)
	}
	if err := s.cfg.Store.RevokeFamily(ctx, familyID); err != nil {
		return fmt.Errorf("refresh: revoke family: %w", err)
	}
	return nil
}

// RevokeUser ends every family of the user except keep, denying their
// access tokens, and returns how many it ended.
func (s *Service) RevokeUser(ctx context.Context, userID, keep string) (int, error) {
	ids, err := s.cfg.Store.RevokeFamilies(ctx, userID, keep)
	if err != nil {
		return 0, fmt.Errorf("refresh: revoke user: %w", err)
	}
	until := s.now().Add(s.cfg.AccessTTL + time.Minute)
	for _, id := range ids {
		if err := s.cfg.Store.Deny(ctx, "sid:"+id, until); err != nil {
			return 0, fmt.Errorf("refresh: revoke user: %w", err)
		}
	}
	return len(ids), nil
}

// RevokeClient ends everything a removed OAuth client holds: every access
// token issued to it (one denylist entry, "client:<id>", lasting as long as
// they could live) and every refresh family of it. It returns how many
// families it ended. Until the entry lapses (AccessTTL plus a minute),
// tokens carrying clientID are refused, so a client registered again under
// the same ID before then would get tokens nobody accepts: ClientRevoked
// tells.
func (s *Service) RevokeClient(ctx context.Context, clientID string) (int, error) {
	if clientID == "" {
		return 0, errors.New("refresh: revoke client: empty client ID")
	}
	if err := s.cfg.Store.Deny(ctx, "client:"+clientID, s.now().Add(s.cfg.AccessTTL+time.Minute)); err != nil {
		return 0, fmt.Errorf("refresh: revoke client: %w", err)
	}
	ids, err := s.cfg.Store.RevokeFamiliesByClient(ctx, clientID)
	if err != nil {
		return 0, fmt.Errorf("refresh: revoke client: %w", err)
	}
	return len(ids), nil
}

// ClientRevoked reports whether RevokeClient's denylist entry for clientID
// is still in force.
func (s *Service) ClientRevoked(ctx context.Context, clientID string) (bool, error) {
	d, err := s.cfg.Store.Denied(ctx, "client:"+clientID)
	if err != nil {
		return false, fmt.Errorf("refresh: client revoked: %w", err)
	}
	return d, nil
}

// RevokeToken ends the family of a refresh token (RFC 7009). It reports
// whether tok was a known refresh token; userID, if not empty, must own it.
func (s *Service) RevokeToken(ctx context.Context, tok, userID string) (bool, error) {
	return s.RevokeTokenIf(ctx, tok, func(f *Family) bool { return userID == "" || f.UserID == userID })
}

// lookup is the one way from a presented refresh token to its record and
// live family, for Refresh, revocation and introspection: strict shape, the
// ID derived from the token's hash, a constant-time hash compare, the
// record's family and the family's deadline. ErrInvalid when tok is
// malformed, unknown, not the record's or expired; other errors are store
// failures.
func (s *Service) lookup(ctx context.Context, tok string) (*Token, *Family, error) {
	hash, err := session.ParseToken(tok)
	if err != nil {
		return nil, nil, ErrInvalid
	}
	rec, fam, err := s.cfg.Store.LookupToken(ctx, session.IDFromHash(hash))
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrInvalid
	}
	if err != nil {
		return nil, nil, fmt.Errorf("refresh: lookup: %w", err)
	}
	if subtle.ConstantTimeCompare(rec.Hash, hash) != 1 || rec.FamilyID != fam.ID || !s.now().Before(fam.Deadline()) {
		return nil, nil, ErrInvalid
	}
	return rec, fam, nil
}

// RevokeTokenIf ends the family of refresh token tok when allow(family) is
// true, and reports whether it did.
func (s *Service) RevokeTokenIf(ctx context.Context, tok string, allow func(*Family) bool) (bool, error) {
	_, fam, err := s.lookup(ctx, tok)
	if errors.Is(err, ErrInvalid) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !allow(fam) {
		return false, nil
	}
	return true, s.RevokeFamily(ctx, fam.ID)
}

// Inspect returns the family of tok when tok is its family's live (unspent)
// token, for introspection; ErrInvalid otherwise.
func (s *Service) Inspect(ctx context.Context, tok string) (*Family, error) {
	rec, fam, err := s.lookup(ctx, tok)
	if err != nil {
		return nil, err
	}
	if !rec.SpentAt.IsZero() {
		return nil, ErrInvalid
	}
	return fam, nil
}

// DenyAccess denies one access token (by jti) until it would expire.
func (s *Service) DenyAccess(ctx context.Context, jti string, exp time.Time) error {
	if err := s.cfg.Store.Deny(ctx, "jti:"+jti, exp.Add(time.Minute)); err != nil {
		return fmt.Errorf("refresh: deny access token: %w", err)
	}
	return nil
}

// Denied reports whether an access token with jti, sid and clientID is
// revoked: by itself, with its session or family, or with its client. It is
// one denylist read.
func (s *Service) Denied(ctx context.Context, jti, sid, clientID string) (bool, error) {
	keys := []string{"jti:" + jti}
	if sid != "" {
		keys = append(keys, "sid:"+sid)
	}
	if clientID != "" {
		keys = append(keys, "client:"+clientID)
	}
	d, err := s.cfg.Store.Denied(ctx, keys...)
	if err != nil {
		return false, fmt.Errorf("refresh: denylist: %w", err)
	}
	return d, nil
}

// sealKey derives the AES-256 key that seals a token's successor pair.
func sealKey(tok string) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(tok), nil, "sessiond refresh successor v1", 32)
}

func seal(tok, id string, p *Pair) ([]byte, error) {
	key, err := sealKey(tok)
	if err != nil {
		return nil, fmt.Errorf("refresh: seal: %w", err)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("refresh: seal: %w", err)
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("refresh: seal: %w", err)
	}
	return gcm.Seal(nonce, nonce, plain, []byte(id)), nil
}

func open(tok, id string, sealed []byte) (*Pair, error) {
	key, err := sealKey(tok)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("refresh: open: short")
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("refresh: open: %w", err)
	}
	var p Pair
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("refresh: open: %w", err)
	}
	return &p, nil
}
