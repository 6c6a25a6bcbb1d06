package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/token"
)

// kekFile is where the embedded store's generated key-encryption key for
// second factors lives, in the data directory.
const kekFile = "mfa.kek"

// buildMFA turns second factors on when the users store can hold them. TOTP
// secrets are sealed with token.key_encryption_key; without one the key is
// generated once into <data>/mfa.kek (0600) on the embedded store, random per
// process on memory:, and refused on PostgreSQL (a shared database).
func buildMFA(cfg *config.Config, stores *Stores) (*server.MFA, error) {
	st, ok := stores.Users.(mfa.Store)
	if !ok {
		return nil, nil
	}
	kek := cfg.Token.KeyEncryptionKeyBytes()
	if kek == nil {
		var err error
		switch stores.Users.(type) {
		case *pgstore.Store:
			return nil, errors.New("app: token.key_encryption_key is required when store.users is PostgreSQL: " +
				"second-factor secrets are sealed with it in the shared database (generate one with: openssl rand -base64 32)")
		case *memstore.Store:
			kek = make([]byte, token.KEKSize)
			_, err = rand.Read(kek)
		default:
			kek, err = localKEK(filepath.Join(cfg.Data, kekFile))
		}
		if err != nil {
			return nil, err
		}
	}
	sealer, err := token.NewSealer(kek)
	if err != nil {
		return nil, fmt.Errorf("app: mfa key-encryption key: %w", err)
	}
	return &server.MFA{Store: st, Sealer: sealer, ReauthWindow: cfg.MFA.ReauthWindow.Duration}, nil
}

// localKEK reads the key at path, or makes it (mode 0600) when there is none.
func localKEK(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b = make([]byte, token.KEKSize)
		if _, err = rand.Read(b); err != nil {
			return nil, fmt.Errorf("app: mfa key: %w", err)
		}
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = writeNew(path, b)
		}
		if errors.Is(err, fs.ErrExist) { // another process made it first
			b, err = os.ReadFile(path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("app: mfa key %s: %w (or set token.key_encryption_key)", path, err)
	}
	if len(b) != token.KEKSize {
		return nil, fmt.Errorf("app: mfa key %s: %d bytes, want %d (or set token.key_encryption_key)", path, len(b), token.KEKSize)
	}
	return b, nil
}

// writeNew creates path with b, mode 0600; fs.ErrExist if it exists.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
