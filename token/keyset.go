package token

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoSigningKey is returned by Keys.Signer (and Issuer.Issue) when no key
// may sign now: the key set was never loaded, or Ensure was not called.
var ErrNoSigningKey = errors.New("token: no signing key")

// Defaults for KeysConfig (and IssuerConfig.TTL).
const (
	// DefaultTokenTTL is the default KeysConfig.TokenTTL and the default
	// lifetime of issued tokens: 15 minutes.
	DefaultTokenTTL = 15 * time.Minute
	// DefaultKeyLeeway is the default KeysConfig.Leeway: MaxLeeway, so a
	// retired key outlives its tokens for any Verifier's leeway.
	DefaultKeyLeeway = MaxLeeway
	// DefaultRefreshInterval is the default KeysConfig.RefreshInterval.
	DefaultRefreshInterval = time.Minute
	// DefaultMinReloadInterval is the default KeysConfig.MinReloadInterval.
	DefaultMinReloadInterval = 10 * time.Second
)

// KeysConfig configures Keys. Zero values mean the documented defaults.
type KeysConfig struct {
	// Alg is the algorithm of keys made by Ensure and Rotate. Default EdDSA.
	Alg Alg
	// TokenTTL is the longest lifetime of any token signed with these keys
	// (the access-token TTL, or the ID-token TTL if longer). A retired key
	// stays published for TokenTTL + Leeway after it stops signing, and
	// Issuer refuses to sign for longer. Default 15m.
	TokenTTL time.Duration
	// Leeway is the clock skew allowed for, added to how long a retired key
	// stays published. Default 60s (the largest a Verifier accepts).
	Leeway time.Duration
	// PublishDelay is how long Rotate publishes the next key before it
	// signs. Default 0: the new key signs at once, which is right for a
	// single node whose verifiers read the key set directly. When other
	// services cache the JWKS (Cache-Control max-age) or several nodes share
	// the store, set it to at least the JWKS max-age plus RefreshInterval,
	// so every verifier and node knows the next key before any token it
	// signed arrives; otherwise such tokens can be refused for up to that
	// long after a rotation.
	PublishDelay time.Duration
	// RefreshInterval is how often Run reloads the key set from the store
	// (and prunes it). Default 1m.
	RefreshInterval time.Duration
	// MinReloadInterval rate-limits the reloads that an unknown kid
	// triggers: at most one per interval, whatever the traffic. Default 10s.
	MinReloadInterval time.Duration
	// Sealer, when set, encrypts private keys before PutKey and decrypts
	// them after ListKeys; unsealed data in the store is then an error.
	// Configure one for shared stores (PostgreSQL). Default none.
	Sealer *Sealer
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives errors from Run and notes on pruned keys. Default: no
	// logging.
	Logger *slog.Logger
}

// Keys is the signing key set: it loads keys from a KeyStore, keeps them in
// memory, rotates and prunes them, picks the signer and publishes the JWKS.
// Verification reads the in-memory set only; an unknown kid triggers at most
// one reload per MinReloadInterval. Keys is safe for concurrent use; its
// writes (Ensure, Rotate, Add, Prune) are serialized within the process.
type Keys struct {
	store KeyStore
	cfg   KeysConfig

	snap atomic.Pointer[keySnapshot]

	mu         sync.Mutex // serializes reloads and writes
	lastReload time.Time  // guarded by mu

	// removals counts the reloads that found a key gone (retired at once,
	// or pruned): see Removals.
	removals atomic.Uint64
}

// keySnapshot is an immutable view of the key set.
type keySnapshot struct {
	keys []*Key // newest NotBefore first
	byID map[string]*Key
}

// NewKeys returns a Keys backed by store. It does no I/O: call Ensure (a
// server) or Reload (a verifier only) before use. An invalid config (unknown
// Alg, negative durations) is an error.
func NewKeys(store KeyStore, cfg KeysConfig) (*Keys, error) {
	if store == nil {
		return nil, errors.New("token: keys: nil store")
	}
	if cfg.Alg == "" {
		cfg.Alg = EdDSA
	}
	if !cfg.Alg.Valid() {
		return nil, fmt.Errorf("token: keys: unsupported alg %q", cfg.Alg)
	}
	for name, d := range map[string]time.Duration{
		"TokenTTL": cfg.TokenTTL, "Leeway": cfg.Leeway, "PublishDelay": cfg.PublishDelay,
		"RefreshInterval": cfg.RefreshInterval, "MinReloadInterval": cfg.MinReloadInterval,
	} {
		if d < 0 {
			return nil, fmt.Errorf("token: keys: negative %s", name)
		}
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultKeyLeeway
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MinReloadInterval == 0 {
		cfg.MinReloadInterval = DefaultMinReloadInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	k := &Keys{store: store, cfg: cfg}
	k.snap.Store(&keySnapshot{byID: map[string]*Key{}})
	return k, nil
}

// TokenTTL returns the longest token lifetime the key set allows for.
func (k *Keys) TokenTTL() time.Duration { return k.cfg.TokenTTL }

// Reload reads the key set from the store. On error the previous set stays in
// use. A key that cannot be decoded (corrupt data, wrong KEK, unsealed data
// with a Sealer configured) fails the whole reload: better to keep the known
// set than to drop keys silently.
func (k *Keys) Reload(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reloadLocked(ctx)
}

func (k *Keys) reloadLocked(ctx context.Context) error {
	stored, err := k.store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("token: reload keys: %w", err)
	}
	keys := make([]*Key, 0, len(stored))
	byID := make(map[string]*Key, len(stored))
	for _, sk := range stored {
		key, err := k.decode(sk)
		if err != nil {
			return fmt.Errorf("token: reload keys: %w", err)
		}
		if _, dup := byID[key.ID]; dup {
			return fmt.Errorf("token: reload keys: duplicate kid %q", key.ID)
		}
		keys = append(keys, key)
		byID[key.ID] = key
	}
	sort.Slice(keys, func(i, j int) bool { return newer(keys[i], keys[j]) })
	for id := range k.snap.Load().byID {
		if _, ok := byID[id]; !ok {
			k.removals.Add(1)
			break
		}
	}
	k.snap.Store(&keySnapshot{keys: keys, byID: byID})
	k.lastReload = k.cfg.Now()
	return nil
}

// newer orders keys newest first: by NotBefore, then CreatedAt, then ID.
func newer(a, b *Key) bool {
	if !a.NotBefore.Equal(b.NotBefore) {
		return a.NotBefore.After(b.NotBefore)
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func (k *Keys) decode(sk StoredKey) (*Key, error) {
	data := sk.Data
	switch {
	case k.cfg.Sealer != nil:
		pt, err := k.cfg.Sealer.Open(data, keyAD(sk.ID, sk.Alg))
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", truncate(sk.ID, MaxKeyIDLen), err)
		}
		data = pt
	case isSealed(data):
		return nil, fmt.Errorf("key %q is sealed but no Sealer is configured", truncate(sk.ID, MaxKeyIDLen))
	}
	key, err := UnmarshalKey(data)
	if err != nil {
		return nil, err
	}
	if key.ID != sk.ID || key.Alg != sk.Alg {
		return nil, fmt.Errorf("key %q: stored id/alg do not match its data", truncate(sk.ID, MaxKeyIDLen))
	}
	key.CreatedAt, key.NotBefore, key.RetiredAt, key.ExpiresAt = sk.CreatedAt, sk.NotBefore, sk.RetiredAt, sk.ExpiresAt
	return key, nil
}

func (k *Keys) put(ctx context.Context, key *Key) error {
	data, err := MarshalKey(key)
	if err != nil {
		return err
	}
	if k.cfg.Sealer != nil {
		if data, err = k.cfg.Sealer.Seal(data, keyAD(key.ID, key.Alg)); err != nil {
			return err
		}
	}
	return k.store.PutKey(ctx, StoredKey{
		ID: key.ID, Alg: key.Alg, Data: data,
		CreatedAt: key.CreatedAt, NotBefore: key.NotBefore, RetiredAt: key.RetiredAt, ExpiresAt: key.ExpiresAt,
	})
}

// Ensure loads the key set and makes sure a key of the configured Alg signs
// or is about to: with no usable signer at all it creates one that signs at
// once; when the signer has another alg (the configuration changed) it
// rotates, with PublishDelay. Call it at start-up. Several nodes starting on
// an empty shared store may each create a key; that is harmless (all are
// published, the newest signs).
func (k *Keys) Ensure(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reloadLocked(ctx); err != nil {
		return err
	}
	now := k.cfg.Now()
	snap := k.snap.Load()
	signer := snap.signer(now)
	if signer == nil {
		_, err := k.rotateLocked(ctx, now, 0)
		return err
	}
	if signer.Alg == k.cfg.Alg {
		return nil
	}
	for _, key := range snap.keys {
		if key.Alg == k.cfg.Alg && key.NotBefore.After(now) && key.RetiredAt.IsZero() {
			return nil // the next key is already published
		}
	}
	_, err := k.rotateLocked(ctx, now, k.cfg.PublishDelay)
	return err
}

// Rotate creates a new key of the configured Alg and stores it, which
// publishes it in the JWKS at once; it starts signing PublishDelay later.
// Every key not yet retired is retired at that moment and expires (leaves the
// JWKS) TokenTTL + Leeway after it, when the last token it signed has
// expired. Rotate returns the new kid.
func (k *Keys) Rotate(ctx context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reloadLocked(ctx); err != nil {
		return "", err
	}
	return k.rotateLocked(ctx, k.cfg.Now(), k.cfg.PublishDelay)
}

func (k *Keys) rotateLocked(ctx context.Context, now time.Time, delay time.Duration) (string, error) {
	key, err := GenerateKey(k.cfg.Alg, now)
	if err != nil {
		return "", fmt.Errorf("token: rotate: %w", err)
	}
	key.NotBefore = now.Add(delay)
	if err := k.addLocked(ctx, key); err != nil {
		return "", fmt.Errorf("token: rotate: %w", err)
	}
	return key.ID, nil
}

// addLocked stores key (published from now on), retires every other
// unretired key at key.NotBefore, and reloads.
func (k *Keys) addLocked(ctx context.Context, key *Key) error {
	if err := k.put(ctx, key); err != nil {
		return err
	}
	for _, old := range k.snap.Load().keys {
		if old.ID == key.ID || !old.RetiredAt.IsZero() {
			continue
		}
		if err := k.retire(ctx, old, key.NotBefore); err != nil {
			return err
		}
	}
	return k.reloadLocked(ctx)
}

func (k *Keys) retire(ctx context.Context, old *Key, at time.Time) error {
	r := *old
	r.RetiredAt = at
	r.ExpiresAt = at.Add(k.cfg.TokenTTL + k.cfg.Leeway)
	return k.put(ctx, &r)
}

// Add stores a key made elsewhere (NewHMACKey from a configured secret, or
// an imported key) as the newest: it signs from its NotBefore (now, if zero)
// and every other unretired key is retired then. Adding a kid that is
// already stored is a no-op (its stored lifecycle is kept), so calling Add
// with the same secret at every start is fine; the same kid with another
// alg is an error.
func (k *Keys) Add(ctx context.Context, key *Key) error {
	if key == nil || key.priv == nil {
		return errors.New("token: add key: no private key")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reloadLocked(ctx); err != nil {
		return err
	}
	if have, ok := k.snap.Load().byID[key.ID]; ok {
		if have.Alg != key.Alg {
			return fmt.Errorf("token: add key %q: stored with alg %s", key.ID, have.Alg)
		}
		return nil
	}
	now := k.cfg.Now()
	c := *key
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = now
	}
	c.RetiredAt, c.ExpiresAt = time.Time{}, time.Time{}
	if err := k.addLocked(ctx, &c); err != nil {
		return fmt.Errorf("token: add key: %w", err)
	}
	return nil
}

// Prune deletes the keys whose ExpiresAt has passed (no live token can carry
// their kid) and returns their kids. It also retires any key left unretired
// although a newer key already signs (after a crash in the middle of Rotate).
// The signing key is never pruned.
func (k *Keys) Prune(ctx context.Context) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reloadLocked(ctx); err != nil {
		return nil, err
	}
	now := k.cfg.Now()
	snap := k.snap.Load()
	signer := snap.signer(now)
	var pruned []string
	changed := false
	for _, key := range snap.keys {
		switch {
		case key == signer:
		case !key.live(now):
			if err := k.store.DeleteKey(ctx, key.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return pruned, fmt.Errorf("token: prune: %w", err)
			}
			pruned = append(pruned, key.ID)
			changed = true
		case key.RetiredAt.IsZero() && signer != nil && newer(signer, key):
			if err := k.retire(ctx, key, signer.NotBefore); err != nil {
				return pruned, fmt.Errorf("token: prune: %w", err)
			}
			changed = true
		}
	}
	if changed {
		if err := k.reloadLocked(ctx); err != nil {
			return pruned, err
		}
	}
	for _, id := range pruned {
		k.log(slog.LevelInfo, "token: pruned expired signing key", "kid", id)
	}
	return pruned, nil
}

// Retire removes the key kid at once, for a key that leaked: it is deleted
// from the store, so it leaves the JWKS now and no token it signed verifies
// any more, here at once and on other nodes at their next reload (Run, every
// RefreshInterval). When kid was the signer (or no other key would sign
// now), the next key signs immediately: a pre-published key is promoted, or
// a new key of the configured Alg is created. Retire returns the kid that
// signs now. An unknown kid is an error matching ErrNotFound. Tokens the
// retired key signed must be re-obtained (refresh tokens are not JWTs and
// keep working).
func (k *Keys) Retire(ctx context.Context, kid string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reloadLocked(ctx); err != nil {
		return "", err
	}
	if _, ok := k.snap.Load().byID[kid]; !ok {
		return "", fmt.Errorf("token: retire key %q: %w", truncate(kid, MaxKeyIDLen), ErrNotFound)
	}
	if err := k.store.DeleteKey(ctx, kid); err != nil {
		return "", fmt.Errorf("token: retire key: %w", err)
	}
	if err := k.reloadLocked(ctx); err != nil {
		return "", err
	}
	now := k.cfg.Now()
	snap := k.snap.Load()
	var next *Key // the pre-published key, if any
	for _, key := range snap.keys {
		if key.RetiredAt.IsZero() && key.NotBefore.After(now) {
			next = key
			break
		}
	}
	signer := snap.signer(now)
	switch {
	case signer != nil && (signer.RetiredAt.IsZero() || next != nil):
		return signer.ID, nil
	case signer != nil: // its successor was the retired key: it signs on
		s := *signer
		s.RetiredAt, s.ExpiresAt = time.Time{}, time.Time{}
		if err := k.put(ctx, &s); err != nil {
			return "", fmt.Errorf("token: retire key: %w", err)
		}
		return s.ID, k.reloadLocked(ctx)
	case next != nil:
		p := *next
		p.NotBefore = now
		if err := k.addLocked(ctx, &p); err != nil {
			return "", fmt.Errorf("token: retire key: promote: %w", err)
		}
		return p.ID, nil
	}
	return k.rotateLocked(ctx, now, 0)
}

// Removals counts how often a reload found that a key had gone from the
// store (Retire, Prune, or either done by another node). Caches of verified
// tokens compare it to drop what a removed key vouched for.
func (k *Keys) Removals() uint64 { return k.removals.Load() }

// Run reloads and prunes the key set every RefreshInterval until ctx is done,
// then returns ctx.Err(). Errors are logged (Logger) and retried at the next
// tick. A server runs it in the background so that rotations made by other
// nodes are seen.
func (k *Keys) Run(ctx context.Context) error {
	t := time.NewTicker(k.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := k.Prune(ctx); err != nil && ctx.Err() == nil {
				k.log(slog.LevelError, "token: refresh key set", "err", err)
			}
		}
	}
}

func (k *Keys) log(level slog.Level, msg string, args ...any) {
	if k.cfg.Logger != nil {
		k.cfg.Logger.Log(context.Background(), level, msg, args...)
	}
}

// Signer returns (a copy of) the key that signs now: the newest key whose
// NotBefore has come and that is not retired. It returns ErrNoSigningKey if there is none.
// It reads the in-memory set only.
func (k *Keys) Signer() (*Key, error) {
	if s := k.snap.Load().signer(k.cfg.Now()); s != nil {
		return s.clone(), nil
	}
	return nil, ErrNoSigningKey
}

func (s *keySnapshot) signer(now time.Time) *Key {
	for _, key := range s.keys {
		if key.signs(now) {
			return key
		}
	}
	return nil
}

// List returns copies of the keys currently loaded, newest first, including
// pre-published and expired-but-unpruned ones (for `sessiond keys list`).
// String never prints their private material.
func (k *Keys) List() []*Key {
	keys := k.snap.Load().keys
	out := make([]*Key, len(keys))
	for i, key := range keys {
		out[i] = key.clone()
	}
	return out
}

// VerificationKey returns (a copy of) the key with the given kid if it may
// still verify (its ExpiresAt has not passed). A kid not in memory triggers a
// reload from the store, at most once per MinReloadInterval across all
// callers; a kid that is malformed (not 1-128 base64url characters) never
// does. It returns an error matching ErrNotFound when there is no such live
// key, and the store error when the reload fails.
func (k *Keys) VerificationKey(ctx context.Context, kid string) (*Key, error) {
	if !ValidKeyID(kid) {
		return nil, fmt.Errorf("token: malformed kid: %w", ErrNotFound)
	}
	if key, ok := k.snap.Load().byID[kid]; ok {
		return k.liveKey(key)
	}
	k.mu.Lock()
	if key, ok := k.snap.Load().byID[kid]; ok { // reloaded meanwhile
		k.mu.Unlock()
		return k.liveKey(key)
	}
	now := k.cfg.Now()
	if !k.lastReload.IsZero() && now.Sub(k.lastReload) < k.cfg.MinReloadInterval {
		k.mu.Unlock()
		return nil, fmt.Errorf("token: kid %q: %w", kid, ErrNotFound)
	}
	k.lastReload = now // count failed attempts too: a down store is not hammered
	err := k.reloadLocked(ctx)
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if key, ok := k.snap.Load().byID[kid]; ok {
		return k.liveKey(key)
	}
	return nil, fmt.Errorf("token: kid %q: %w", kid, ErrNotFound)
}

func (k *Keys) liveKey(key *Key) (*Key, error) {
	if !key.live(k.cfg.Now()) {
		return nil, fmt.Errorf("token: kid %q expired: %w", key.ID, ErrNotFound)
	}
	return key.clone(), nil
}
