package session

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultIdleTimeout     = 24 * time.Hour
	DefaultAbsoluteTimeout = 30 * 24 * time.Hour
	DefaultTouchInterval   = time.Minute
)

// Config configures a Manager. Zero fields take the documented defaults.
type Config struct {
	// Store keeps the sessions. Required.
	Store Backend
	// IdleTimeout ends a session not used for this long. Default 24h.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login, used or not.
	// Default 720h (30 days).
	AbsoluteTimeout time.Duration
	// TouchInterval throttles last-seen writes: a session is touched at most
	// once per interval. Default 1m. Idle expiry is exact to within it.
	TouchInterval time.Duration
	// MaxPerUser caps a user's concurrent sessions; creating one more ends the
	// oldest. Zero means no cap.
	MaxPerUser int
	// Cookie sets the cookie's name and attributes.
	Cookie CookieConfig
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of session tokens. Default crypto/rand.Reader.
	Rand io.Reader
}

// Meta describes the device a session is created for and how its holder
// signed in.
type Meta struct {
	IP        string
	UserAgent string
	Method    string
	// Assurance is how strongly the holder authenticated. Zero means one
	// factor by Method, now: OneFactor(Method, now).
	Assurance Assurance
}

// Manager creates, loads, renews and ends sessions on a Backend. It is safe
// for concurrent use.
type Manager struct {
	cfg Config
}

// NewManager returns a Manager for cfg. It fails if cfg.Store is nil or the
// timeouts are inconsistent.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("session: new manager: no store")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = DefaultTouchInterval
	}
	if cfg.IdleTimeout < 0 || cfg.AbsoluteTimeout < 0 || cfg.TouchInterval < 0 {
		return nil, errors.New("session: new manager: negative timeout")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg}, nil
}

// Store returns the Manager's backend.
func (m *Manager) Store() Backend { return m.cfg.Store }

// AbsoluteTimeout reports the configured absolute lifetime of a session.
func (m *Manager) AbsoluteTimeout() time.Duration { return m.cfg.AbsoluteTimeout }

func (m *Manager) now() time.Time { return m.cfg.Now().UTC().Truncate(time.Millisecond) }

// Now is the manager's clock (Config.Now) as it stamps sessions: UTC, to the
// millisecond. For callers that build a Meta.Assurance.
func (m *Manager) Now() time.Time { return m.now() }

func (m *Manager) idleDeadline(lastSeen, expires time.Time) time.Time {
	d := lastSeen.Add(m.cfg.IdleTimeout)
	if d.After(expires) {
		return expires
	}
	return d
}

// Create starts a new session for userID and returns it with its token, which
// the caller hands to the client (the server keeps only its hash). When
// MaxPerUser is set, the user's oldest sessions beyond the cap are ended.
//
// The session carries meta.Assurance (zero: OneFactor(meta.Method, now)).
func (m *Manager) Create(ctx context.Context, userID string, meta Meta) (*Session, string, error) {
	return m.create(ctx, userID, meta, nil, 0, time.Time{})
}

func (m *Manager) create(ctx context.Context, userID string, meta Meta, data []byte, version int64, created time.Time) (*Session, string, error) {
	tok, err := NewToken(m.cfg.Rand)
	if err != nil {
		return nil, "", err
	}
	now := m.now()
	if created.IsZero() {
		created = now
	}
	hash := HashToken(tok)
	s := &Session{
		ID:          IDFromHash(hash),
		Hash:        hash,
		UserID:      userID,
		CreatedAt:   created,
		LastSeenAt:  now,
		ExpiresAt:   created.Add(m.cfg.AbsoluteTimeout),
		IP:          meta.IP,
		UserAgent:   meta.UserAgent,
		Method:      meta.Method,
		Data:        data,
		DataVersion: version,
		Assurance:   meta.Assurance.Clone(),
	}
	if s.Assurance.AAL == 0 {
		s.Assurance = OneFactor(meta.Method, now)
	}
	s.IdleExpiresAt = m.idleDeadline(now, s.ExpiresAt)
	if err := m.cfg.Store.Create(ctx, s); err != nil {
		return nil, "", fmt.Errorf("session: create: %w", err)
	}
	if m.cfg.MaxPerUser > 0 {
		if err := m.evict(ctx, userID); err != nil {
			return nil, "", err
		}
	}
	s.CSRFToken = CSRFToken(tok)
	return s, tok, nil
}

// evict ends the user's oldest sessions beyond MaxPerUser.
func (m *Manager) evict(ctx context.Context, userID string) error {
	list, err := m.cfg.Store.ListByUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("session: evict: %w", err)
	}
	for i := 0; i < len(list)-m.cfg.MaxPerUser; i++ {
		if err := m.cfg.Store.Delete(ctx, list[i].ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("session: evict: %w", err)
		}
	}
	return nil
}

// Load returns the live session named by tok, touching it when its last-seen
// time is older than the touch interval. A malformed token wraps
// ErrInvalidToken; an unknown one ErrNotFound; an expired one ErrExpired (and
// it is deleted). Store failures are returned wrapped, for a 503.
func (m *Manager) Load(ctx context.Context, tok string) (*Session, error) {
	hash, err := ParseToken(tok)
	if err != nil {
		return nil, err
	}
	s, err := m.cfg.Store.Get(ctx, IDFromHash(hash))
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	if subtle.ConstantTimeCompare(s.Hash, hash) != 1 {
		return nil, fmt.Errorf("session: load: hash mismatch: %w", ErrNotFound)
	}
	now := m.now()
	if !s.Valid(now) {
		_ = m.cfg.Store.Delete(ctx, s.ID)
		return nil, fmt.Errorf("session: load: %w", ErrExpired)
	}
	if now.Sub(s.LastSeenAt) >= m.cfg.TouchInterval {
		idle := m.idleDeadline(now, s.ExpiresAt)
		if err := m.cfg.Store.Touch(ctx, s.ID, now, idle); err != nil {
			return nil, fmt.Errorf("session: load: touch: %w", err)
		}
		s.LastSeenAt, s.IdleExpiresAt = now, idle
	}
	s.CSRFToken = CSRFToken(tok)
	legacyAssurance(s)
	return s, nil
}

// legacyAssurance gives a session stored before sessiond kept assurance (a
// zero one) the assurance of a one-factor sign-in at its creation.
func legacyAssurance(s *Session) {
	if s.Assurance.AAL == 0 {
		s.Assurance = OneFactor(s.Method, s.CreatedAt)
	}
}

// Get returns the session with the public id, without touching it.
func (m *Manager) Get(ctx context.Context, id string) (*Session, error) {
	s, err := m.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("session: get: %w", err)
	}
	if !s.Valid(m.now()) {
		return nil, fmt.Errorf("session: get: %w", ErrExpired)
	}
	legacyAssurance(s)
	return s, nil
}

// Renew replaces s by a session with a fresh ID and token for the same user,
// device and data, and ends s. Call it at every privilege change (password
// change, role change, step-up) so that a token captured before the change
// is useless after it.
//
// The new session keeps the assurance of s.
func (m *Manager) Renew(ctx context.Context, s *Session) (*Session, string, error) {
	return m.replace(ctx, "renew", s, nil, time.Time{})
}

// Raise records that the holder of s verified factor f now (a step-up, or a
// second factor after the password) and returns the session that replaces
// s: a fresh ID and token for the same user, device, data and creation time
// (the absolute expiry does not move), with the assurance s had plus f
// (Assurance.Add). s ends. Raising is a privilege change: a token captured
// before it is useless after it. A session that no longer exists wraps
// ErrNotFound.
func (m *Manager) Raise(ctx context.Context, s *Session, f Factor) (*Session, string, error) {
	return m.replace(ctx, "raise", s, &f, s.CreatedAt)
}

// replace creates the successor of s (with f added to its assurance when f
// is not nil, created at created: zero for now) and ends s.
func (m *Manager) replace(ctx context.Context, op string, s *Session, f *Factor, created time.Time) (*Session, string, error) {
	// Re-read so that the newest data, version and assurance carry over.
	cur, err := m.cfg.Store.Get(ctx, s.ID)
	if err != nil {
		return nil, "", fmt.Errorf("session: %s: %w", op, err)
	}
	legacyAssurance(cur)
	meta := Meta{IP: s.IP, UserAgent: s.UserAgent, Method: s.Method, Assurance: cur.Assurance}
	if f != nil {
		meta.Assurance = cur.Assurance.Add(m.now(), *f)
	}
	ns, tok, err := m.create(ctx, s.UserID, meta, cur.Data, cur.DataVersion, created)
	if err != nil {
		return nil, "", fmt.Errorf("session: %s: %w", op, err)
	}
	if err := m.cfg.Store.Delete(ctx, s.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", fmt.Errorf("session: %s: end old: %w", op, err)
	}
	return ns, tok, nil
}

// Destroy ends the session with the public id. It wraps ErrNotFound when
// there is none.
func (m *Manager) Destroy(ctx context.Context, id string) error {
	if err := m.cfg.Store.Delete(ctx, id); err != nil {
		return fmt.Errorf("session: destroy: %w", err)
	}
	return nil
}

// List returns the user's live sessions, oldest first.
func (m *Manager) List(ctx context.Context, userID string) ([]*Session, error) {
	list, err := m.cfg.Store.ListByUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	now := m.now()
	live := list[:0]
	for _, s := range list {
		if s.Valid(now) {
			live = append(live, s)
		}
	}
	return live, nil
}

// DestroyUser ends every session of the user except keep (empty: all) and
// returns how many ended.
func (m *Manager) DestroyUser(ctx context.Context, userID, keep string) (int, error) {
	n, err := m.cfg.Store.DeleteByUser(ctx, userID, keep)
	if err != nil {
		return n, fmt.Errorf("session: destroy user: %w", err)
	}
	return n, nil
}

// ErrPrecondition is returned by MergeData when the caller's If-Match version
// is not the current one.
var ErrPrecondition = errors.New("session: data version mismatch")

// ErrNotObject is returned by MergeData when the patch is not a JSON object.
var ErrNotObject = errors.New("session: merge patch must be a JSON object")

// MaxMergeAttempts bounds MergeData's compare-and-set retries.
const MaxMergeAttempts = 64

// MergeData applies an RFC 7396 JSON merge patch to the session's data,
// atomically: it retries its compare-and-set until no concurrent writer
// intervened. When ifMatch is not nil the patch applies only to that version
// (else ErrPrecondition). It returns the new data and version.
func (m *Manager) MergeData(ctx context.Context, id string, patch []byte, ifMatch *int64) ([]byte, int64, error) {
	load := func(ctx context.Context) ([]byte, int64, error) {
		s, err := m.Get(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		return s.Data, s.DataVersion, nil
	}
	store := func(ctx context.Context, data []byte, expect int64) (int64, error) {
		return m.cfg.Store.SetData(ctx, id, data, expect)
	}
	return MergeJSON(ctx, load, store, patch, ifMatch)
}

// MergeJSON is the merge loop behind MergeData, for any versioned JSON
// document: load reads it, store is compare-and-set (ErrConflict when the
// version moved on). Token families use it for their session data.
func MergeJSON(ctx context.Context,
	load func(context.Context) ([]byte, int64, error),
	store func(ctx context.Context, data []byte, expect int64) (int64, error),
	patch []byte, ifMatch *int64) ([]byte, int64, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, 0, fmt.Errorf("session: merge data: %w", err)
	}
	if _, ok := p.(map[string]any); !ok {
		return nil, 0, ErrNotObject
	}
	for range MaxMergeAttempts {
		data, version, err := load(ctx)
		if err != nil {
			return nil, 0, err
		}
		if ifMatch != nil && *ifMatch != version {
			return nil, 0, ErrPrecondition
		}
		var doc any = map[string]any{}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &doc); err != nil {
				return nil, 0, fmt.Errorf("session: merge data: stored data: %w", err)
			}
		}
		out, err := json.Marshal(MergePatch(doc, p))
		if err != nil {
			return nil, 0, fmt.Errorf("session: merge data: %w", err)
		}
		v, err := store(ctx, out, version)
		if errors.Is(err, ErrConflict) {
			if ifMatch != nil {
				return nil, 0, ErrPrecondition
			}
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("session: merge data: %w", err)
		}
		return out, v, nil
	}
	return nil, 0, fmt.Errorf("session: merge data: too much contention: %w", ErrConflict)
}

// MergePatch applies the RFC 7396 merge patch to target and returns the
// result. target may be modified.
func MergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = MergePatch(tm[k], v)
	}
	return tm
}
