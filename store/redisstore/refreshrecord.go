package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/sessiond/sessiond/refresh"
)

// A refresh family is stored as one Redis string, like a session (record.go),
// in a layout whose first 41 bytes mirror the session record's, so that the
// scripts read the deadline at the same offsets. Offsets are 0-based here;
// the scripts add 1.
//
//	off len field
//	  0   1 format, familyV2 (or familyV1)
//	  1   8 LastUsedAt, Unix ms, big-endian int64
//	  9   8 IdleExpiresAt, Unix ms (0: none)
//	 17   8 ExpiresAt, Unix ms
//	 25   8 DataVersion
//	 33   8 CreatedAt, Unix ms
//	 41   8 Generation
//	 49   2 len(UserID), big-endian uint16
//	 51   2 len(ClientID)
//	 53   2 len(Scope)
//	 55   2 len(IP)
//	 57   2 len(UserAgent)
//	 59   … UserID, ClientID, Scope, IP, UserAgent, the assurance block
//	        (format 2 only, see appendAssurance), then Data to the end
//
// Format 1 is format 2 without the assurance block: such a record reads as
// the zero Assurance. New records are format 2. The scripts (scripts.go)
// depend on this layout: change both together, with a new format byte.
const (
	familyV1        = 1
	familyV2        = 2
	offFamGen       = 41
	offFamUserLen   = 49
	offFamClientLen = 51
	offFamScopeLen  = 53
	offFamIPLen     = 55
	offFamUALen     = 57
	familyHeader    = 59
)

// A refresh token is stored as one Redis string too. While the token is its
// family's live one the successor fields are zero and empty; Rotate's spend
// script fills them in, in place, in the same step that sets SpentAt, so a
// spent record carries everything needed to finish its rotation (see
// finishRotation).
//
//	off len field
//	  0   1 format, tokenV1
//	  1   8 Generation
//	  9   8 SpentAt, Unix ms (0: live)
//	 17   8 the family's ExpiresAt, Unix ms (the key's own expiry)
//	 25   8 successor's IdleExpiresAt for the family, Unix ms (0 while live)
//	 33   8 successor's Generation (0 while live)
//	 41   2 len(FamilyID), big-endian uint16
//	 43   2 len(UserID), big-endian uint16
//	 45   1 len(Hash)
//	 46   1 len(successor's ID)   (0 while live)
//	 47   1 len(successor's Hash) (0 while live)
//	 48   … FamilyID, UserID, Hash, successor's ID, successor's Hash, then
//	        Sealed to the end
const (
	tokenV1          = 1
	offTokGen        = 1
	offTokSpent      = 9
	offTokExpires    = 17
	offTokNextIdle   = 25
	offTokNextGen    = 33
	offTokFamilyLen  = 41
	offTokUserLen    = 43
	offTokHashLen    = 45
	offTokNextIDLen  = 46
	offTokNextHashLn = 47
	tokenHeader      = 48
)

var (
	errCorruptFamily = errors.New("corrupt refresh family record")
	errCorruptToken  = errors.New("corrupt refresh token record")
)

// lenField is a variable-length field and the most bytes its record
// allows.
type lenField struct {
	name     string
	n, limit int
}

func checkLens(fields ...lenField) error {
	for _, f := range fields {
		if f.n > f.limit {
			return fmt.Errorf("%s is %d bytes, more than %d", f.name, f.n, f.limit)
		}
	}
	return nil
}

// encodeFamily returns f in the family format.
func encodeFamily(f *refresh.Family) ([]byte, error) {
	if err := checkLens(
		lenField{"user id", len(f.UserID), maxField}, lenField{"client id", len(f.ClientID), maxField},
		lenField{"scope", len(f.Scope), maxField}, lenField{"ip", len(f.IP), maxField},
		lenField{"user agent", len(f.UserAgent), maxField},
	); err != nil {
		return nil, err
	}
	b := make([]byte, familyHeader, familyHeader+len(f.UserID)+len(f.ClientID)+len(f.Scope)+len(f.IP)+len(f.UserAgent)+assuranceSize(f.Assurance)+len(f.Data))
	b[0] = familyV2
	be := binary.BigEndian
	be.PutUint64(b[offLastSeen:], uint64(ms(f.LastUsedAt)))
	be.PutUint64(b[offIdle:], uint64(ms(f.IdleExpiresAt)))
	be.PutUint64(b[offExpires:], uint64(ms(f.ExpiresAt)))
	be.PutUint64(b[offVersion:], uint64(f.DataVersion))
	be.PutUint64(b[offCreated:], uint64(ms(f.CreatedAt)))
	be.PutUint64(b[offFamGen:], uint64(f.Generation))
	be.PutUint16(b[offFamUserLen:], uint16(len(f.UserID)))
	be.PutUint16(b[offFamClientLen:], uint16(len(f.ClientID)))
	be.PutUint16(b[offFamScopeLen:], uint16(len(f.Scope)))
	be.PutUint16(b[offFamIPLen:], uint16(len(f.IP)))
	be.PutUint16(b[offFamUALen:], uint16(len(f.UserAgent)))
	b = append(b, f.UserID...)
	b = append(b, f.ClientID...)
	b = append(b, f.Scope...)
	b = append(b, f.IP...)
	b = append(b, f.UserAgent...)
	b, err := appendAssurance(b, f.Assurance)
	if err != nil {
		return nil, err
	}
	b = append(b, f.Data...)
	return b, nil
}

func u64At(r string, off int) int64 {
	return int64(uint64(r[off])<<56 | uint64(r[off+1])<<48 | uint64(r[off+2])<<40 | uint64(r[off+3])<<32 |
		uint64(r[off+4])<<24 | uint64(r[off+5])<<16 | uint64(r[off+6])<<8 | uint64(r[off+7]))
}

func u16At(r string, off int) int { return int(r[off])<<8 | int(r[off+1]) }

// splitParts cuts len(lens) strings off r from p on; it returns them and
// the offset after them, or ok false when r is too short.
func splitParts(r string, p int, lens []int, parts []string) (int, bool) {
	for i, n := range lens {
		if p+n > len(r) {
			return 0, false
		}
		parts[i] = r[p : p+n]
		p += n
	}
	return p, true
}

// decodeFamily parses a family record stored under id. Strings share r's
// memory; Data is a copy.
func decodeFamily(id, r string) (*refresh.Family, error) {
	if len(r) < familyHeader || r[0] != familyV1 && r[0] != familyV2 {
		return nil, errCorruptFamily
	}
	lens := [5]int{u16At(r, offFamUserLen), u16At(r, offFamClientLen), u16At(r, offFamScopeLen), u16At(r, offFamIPLen), u16At(r, offFamUALen)}
	var parts [5]string
	p, ok := splitParts(r, familyHeader, lens[:], parts[:])
	if !ok {
		return nil, errCorruptFamily
	}
	f := &refresh.Family{
		ID:            id,
		UserID:        parts[0],
		ClientID:      parts[1],
		Scope:         parts[2],
		CreatedAt:     fromMS(u64At(r, offCreated)),
		ExpiresAt:     fromMS(u64At(r, offExpires)),
		LastUsedAt:    fromMS(u64At(r, offLastSeen)),
		IdleExpiresAt: fromMS(u64At(r, offIdle)),
		IP:            parts[3],
		UserAgent:     parts[4],
		Generation:    u64At(r, offFamGen),
		DataVersion:   u64At(r, offVersion),
	}
	if r[0] == familyV2 {
		if f.Assurance, p, ok = readAssurance(r, p); !ok {
			return nil, errCorruptFamily
		}
	}
	if p < len(r) {
		f.Data = []byte(r[p:])
	}
	return f, nil
}

// familyDeadlineMS is the family's deadline in Unix ms, at least 1.
func familyDeadlineMS(f *refresh.Family) int64 { return max(ms(f.Deadline()), 1) }

// tokenRecord is a decoded token record.
type tokenRecord struct {
	tok     refresh.Token
	userID  string // the family's user
	expires int64  // the family's ExpiresAt, Unix ms: the key's expiry
	// The successor recorded when the token was spent (nil while live), and
	// the family's IdleExpiresAt that rotation sets.
	next     *refresh.Token
	nextIdle int64
}

// encodeToken returns the record of a live token of family familyID (of
// user userID) whose absolute expiry is expires (Unix ms).
func encodeToken(t *refresh.Token, familyID, userID string, expires int64) ([]byte, error) {
	if err := checkLens(
		lenField{"family id", len(familyID), maxField}, lenField{"user id", len(userID), maxField},
		lenField{"token hash", len(t.Hash), maxHashLength},
	); err != nil {
		return nil, err
	}
	b := make([]byte, tokenHeader, tokenHeader+len(familyID)+len(userID)+len(t.Hash))
	b[0] = tokenV1
	be := binary.BigEndian
	be.PutUint64(b[offTokGen:], uint64(t.Generation))
	be.PutUint64(b[offTokExpires:], uint64(expires))
	be.PutUint16(b[offTokFamilyLen:], uint16(len(familyID)))
	be.PutUint16(b[offTokUserLen:], uint16(len(userID)))
	b[offTokHashLen] = byte(len(t.Hash))
	b = append(b, familyID...)
	b = append(b, userID...)
	b = append(b, t.Hash...)
	return b, nil
}

// decodeToken parses a token record stored under id. Hash, Sealed and the
// successor's Hash are copies.
func decodeToken(id, r string) (*tokenRecord, error) {
	if len(r) < tokenHeader || r[0] != tokenV1 {
		return nil, errCorruptToken
	}
	lens := [5]int{u16At(r, offTokFamilyLen), u16At(r, offTokUserLen), int(r[offTokHashLen]), int(r[offTokNextIDLen]), int(r[offTokNextHashLn])}
	var parts [5]string
	p, ok := splitParts(r, tokenHeader, lens[:], parts[:])
	if !ok {
		return nil, errCorruptToken
	}
	rec := &tokenRecord{
		tok: refresh.Token{
			ID:         id,
			Hash:       []byte(parts[2]),
			FamilyID:   parts[0],
			Generation: u64At(r, offTokGen),
			SpentAt:    fromMS(u64At(r, offTokSpent)),
		},
		userID:   parts[1],
		expires:  u64At(r, offTokExpires),
		nextIdle: u64At(r, offTokNextIdle),
	}
	if p < len(r) {
		rec.tok.Sealed = []byte(r[p:])
	}
	if parts[3] != "" {
		rec.next = &refresh.Token{ID: parts[3], Hash: []byte(parts[4]), FamilyID: parts[0], Generation: u64At(r, offTokNextGen)}
	}
	return rec, nil
}

// spendArgs are the spend script's arguments (see spendScript): now;
// SpentAt; the successor's idle expiry and generation; the lengths of its
// ID and hash; its ID and hash; the sealed pair (not copied).
func spendArgs(now int64, next *refresh.Token, sealed []byte, used, idle time.Time) ([]string, error) {
	if err := checkLens(
		lenField{"successor id", len(next.ID), maxHashLength}, lenField{"successor hash", len(next.Hash), maxHashLength},
	); err != nil {
		return nil, err
	}
	if next.ID == "" {
		return nil, errors.New("successor has no id")
	}
	return []string{
		itoa(now),
		packInt64(max(ms(used), 1)), // 0 would read as "live"
		packInt64(ms(idle), next.Generation),
		string([]byte{byte(len(next.ID)), byte(len(next.Hash))}),
		next.ID + string(next.Hash),
		rueidis.BinaryString(sealed),
	}, nil
}
