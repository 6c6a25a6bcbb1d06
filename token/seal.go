package token

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealPrefix marks sealed data and its format version.
var sealPrefix = []byte("sdk1.")

// KEKSize is the size of a Sealer's key-encryption key, in bytes.
const KEKSize = 32

// Sealer protects private keys at rest with AES-256-GCM under a 32-byte
// key-encryption key (KEK) taken from configuration. Use it whenever a shared
// store (PostgreSQL) holds the key set: someone who can read the database but
// not the configuration learns nothing, and someone who can write to it
// cannot plant a key of their own, because Keys refuses unsealed data when it
// has a Sealer (they can still delete or reschedule keys: a denial of
// service, not a forgery). The embedded single-node store does not need one: it relies
// on its file being mode 0600 (readable by the sessiond user only).
//
// Each sealing uses a fresh random 96-bit nonce; the associated data binds
// the ciphertext to its kid and alg, so sealed blobs cannot be swapped
// between rows. A Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for kek, which must be KEKSize (32) random
// bytes; a short or obviously patterned KEK is an error.
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("token: sealer: key-encryption key has %d bytes, want %d", len(kek), KEKSize)
	}
	if err := checkSecret(kek); err != nil {
		return nil, fmt.Errorf("token: sealer: key-encryption key: %w", err)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("token: sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("token: sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext, binding it to ad (associated data that Open must
// be given again). The result starts with a short format prefix.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("token: seal: %w", err)
	}
	out := make([]byte, 0, len(sealPrefix)+len(nonce)+len(plaintext)+s.aead.Overhead())
	out = append(out, sealPrefix...)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, plaintext, ad), nil
}

// Open decrypts what Seal produced with the same ad. Any change to the data
// or ad, or a different KEK, is an error.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	if !isSealed(sealed) {
		return nil, errors.New("token: open: data is not sealed")
	}
	rest := sealed[len(sealPrefix):]
	if len(rest) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errors.New("token: open: sealed data too short")
	}
	nonce, ct := rest[:s.aead.NonceSize()], rest[s.aead.NonceSize():]
	pt, err := s.aead.Open(nil, nonce, ct, ad)
	if err != nil {
		return nil, fmt.Errorf("token: open: %w", err)
	}
	return pt, nil
}

func isSealed(b []byte) bool { return bytes.HasPrefix(b, sealPrefix) }

// keyAD is the associated data sealing a stored key.
func keyAD(id string, alg Alg) []byte {
	return []byte("sessiond/token/key/v1\x00" + id + "\x00" + string(alg))
}
