package token

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sessiond/sessiond/session"
)

// ErrNotFound is returned (possibly wrapped) when a key does not exist: by
// KeyStore.DeleteKey, and by Keys.VerificationKey for an unknown kid.
var ErrNotFound = session.ErrNotFound

// StoredKey is a key as a KeyStore holds it. The lifecycle times are copies
// of the Key's, kept in columns so that a store can be inspected and queried;
// they are authoritative when the key is loaded (Keys writes them and Data
// together, with PutKey).
type StoredKey struct {
	// ID is the kid, the primary key. Base64url, at most 128 characters.
	ID string
	// Alg is the key's algorithm.
	Alg Alg
	// Data is the key as MarshalKey writes it, sealed with a Sealer when one
	// is configured. Opaque to the store.
	Data []byte
	// CreatedAt, NotBefore, RetiredAt and ExpiresAt mirror the Key fields;
	// zero times are stored as zero (or NULL) and read back as zero.
	CreatedAt time.Time
	NotBefore time.Time
	RetiredAt time.Time
	ExpiresAt time.Time
}

// KeyStore persists the signing key set. Keys is its only user; the SQLite
// and PostgreSQL stores implement it. Key sets are tiny (a handful of rows)
// and change rarely (rotation, pruning), so the interface is deliberately
// plain. Every method:
//   - must be safe for concurrent use, including by several processes sharing
//     the store (Keys serializes its own writes, not other nodes');
//   - must honour ctx cancellation and deadlines, returning ctx.Err() (wrapped
//     is fine);
//   - must not keep or modify the caller's Data slice, nor hand out its own.
//
// Writes must be durable when they return nil: a key that signed a token and
// is then lost makes that token unverifiable.
type KeyStore interface {
	// ListKeys returns every stored key, in any order. An empty store
	// returns an empty (or nil) slice and a nil error. It must not filter
	// expired keys: Keys decides what is expired.
	ListKeys(ctx context.Context) ([]StoredKey, error)
	// PutKey inserts k, or replaces every field of the stored key with the
	// same ID (an upsert). Two nodes writing the same ID race; the last
	// write wins.
	PutKey(ctx context.Context, k StoredKey) error
	// DeleteKey removes the key with the given ID. It returns an error
	// matching ErrNotFound (errors.Is) when there is no such key, which Keys
	// treats as success (another node pruned it first).
	DeleteKey(ctx context.Context, id string) error
}

// MemKeyStore is an in-memory KeyStore for tests, examples and library users
// that keep keys in process (every restart then starts a new key set, so
// tokens issued before a restart stop verifying). The zero value is ready to
// use; it is safe for concurrent use.
type MemKeyStore struct {
	mu   sync.Mutex
	keys map[string]StoredKey
}

var _ KeyStore = (*MemKeyStore)(nil)

// NewMemKeyStore returns an empty MemKeyStore.
func NewMemKeyStore() *MemKeyStore { return &MemKeyStore{} }

// ListKeys returns copies of every key, ordered by NotBefore then ID.
func (s *MemKeyStore) ListKeys(ctx context.Context) ([]StoredKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("token: memstore: list keys: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StoredKey, 0, len(s.keys))
	for _, k := range s.keys {
		k.Data = append([]byte(nil), k.Data...)
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NotBefore.Equal(out[j].NotBefore) {
			return out[i].NotBefore.Before(out[j].NotBefore)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// PutKey stores a copy of k, replacing a key with the same ID.
func (s *MemKeyStore) PutKey(ctx context.Context, k StoredKey) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("token: memstore: put key: %w", err)
	}
	if k.ID == "" {
		return errors.New("token: memstore: put key: empty id")
	}
	k.Data = append([]byte(nil), k.Data...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = make(map[string]StoredKey)
	}
	s.keys[k.ID] = k
	return nil
}

// DeleteKey removes the key with id, or returns ErrNotFound.
func (s *MemKeyStore) DeleteKey(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("token: memstore: delete key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; !ok {
		return fmt.Errorf("token: memstore: delete key %q: %w", truncate(id, MaxKeyIDLen), ErrNotFound)
	}
	delete(s.keys, id)
	return nil
}
