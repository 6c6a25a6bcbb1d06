package redisstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sessiond/sessiond/session"
)

// A session is stored as one Redis string, a compact binary record whose
// fixed header the Lua scripts read and rewrite in place (with Redis's
// struct library). Offsets are 0-based here; the scripts add 1.
//
//	off len field
//	  0   1 format, recordV2 (or recordV1)
//	  1   8 LastSeenAt, Unix ms, big-endian int64
//	  9   8 IdleExpiresAt, Unix ms (0: none)
//	 17   8 ExpiresAt, Unix ms
//	 25   8 DataVersion
//	 33   8 CreatedAt, Unix ms
//	 41   2 len(UserID), big-endian uint16
//	 43   1 len(Hash)
//	 44   2 len(IP)
//	 46   2 len(UserAgent)
//	 48   2 len(Method)
//	 50   … UserID, Hash, IP, UserAgent, Method, the assurance block (format
//	        2 only, see appendAssurance), then Data to the end
//
// Format 1 is format 2 without the assurance block: such a record (written
// before sessiond kept assurance) reads as the zero Assurance, which
// session.Manager turns into one factor at CreatedAt. New records are
// format 2. The zero time.Time is stored as 0. The scripts (scripts.go)
// depend on this layout: change both together, with a new format byte.
const (
	recordV1      = 1
	recordV2      = 2
	offLastSeen   = 1
	offIdle       = 9
	offExpires    = 17
	offVersion    = 25
	offCreated    = 33
	offUserLen    = 41
	offHashLen    = 43
	offIPLen      = 44
	offUALen      = 46
	offMethodLen  = 48
	recordHeader  = 50
	maxField      = 1<<16 - 1
	maxHashLength = 1<<8 - 1
)

var errCorrupt = errors.New("corrupt session record")

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// encodeRecord returns s in the record format. Strings longer than 65535
// bytes (and a Hash longer than 255) are refused.
func encodeRecord(s *session.Session) ([]byte, error) {
	for _, f := range []struct {
		name string
		n    int
	}{{"user id", len(s.UserID)}, {"ip", len(s.IP)}, {"user agent", len(s.UserAgent)}, {"method", len(s.Method)}} {
		if f.n > maxField {
			return nil, fmt.Errorf("%s is %d bytes, more than %d", f.name, f.n, maxField)
		}
	}
	if len(s.Hash) > maxHashLength {
		return nil, fmt.Errorf("hash is %d bytes, more than %d", len(s.Hash), maxHashLength)
	}
	b := make([]byte, recordHeader, recordHeader+len(s.UserID)+len(s.Hash)+len(s.IP)+len(s.UserAgent)+len(s.Method)+assuranceSize(s.Assurance)+len(s.Data))
	b[0] = recordV2
	be := binary.BigEndian
	be.PutUint64(b[offLastSeen:], uint64(ms(s.LastSeenAt)))
	be.PutUint64(b[offIdle:], uint64(ms(s.IdleExpiresAt)))
	be.PutUint64(b[offExpires:], uint64(ms(s.ExpiresAt)))
	be.PutUint64(b[offVersion:], uint64(s.DataVersion))
	be.PutUint64(b[offCreated:], uint64(ms(s.CreatedAt)))
	be.PutUint16(b[offUserLen:], uint16(len(s.UserID)))
	b[offHashLen] = byte(len(s.Hash))
	be.PutUint16(b[offIPLen:], uint16(len(s.IP)))
	be.PutUint16(b[offUALen:], uint16(len(s.UserAgent)))
	be.PutUint16(b[offMethodLen:], uint16(len(s.Method)))
	b = append(b, s.UserID...)
	b = append(b, s.Hash...)
	b = append(b, s.IP...)
	b = append(b, s.UserAgent...)
	b = append(b, s.Method...)
	b, err := appendAssurance(b, s.Assurance)
	if err != nil {
		return nil, err
	}
	b = append(b, s.Data...)
	return b, nil
}

// decodeRecord parses a record stored under id. Strings share r's memory;
// Hash and Data are copies.
func decodeRecord(id, r string) (*session.Session, error) {
	if len(r) < recordHeader || r[0] != recordV1 && r[0] != recordV2 {
		return nil, errCorrupt
	}
	u64 := func(off int) int64 {
		return int64(uint64(r[off])<<56 | uint64(r[off+1])<<48 | uint64(r[off+2])<<40 | uint64(r[off+3])<<32 |
			uint64(r[off+4])<<24 | uint64(r[off+5])<<16 | uint64(r[off+6])<<8 | uint64(r[off+7]))
	}
	u16 := func(off int) int { return int(r[off])<<8 | int(r[off+1]) }
	lens := [5]int{u16(offUserLen), int(r[offHashLen]), u16(offIPLen), u16(offUALen), u16(offMethodLen)}
	var parts [5]string
	p := recordHeader
	for i, n := range lens {
		if p+n > len(r) {
			return nil, errCorrupt
		}
		parts[i] = r[p : p+n]
		p += n
	}
	s := &session.Session{
		ID:            id,
		Hash:          []byte(parts[1]),
		UserID:        parts[0],
		CreatedAt:     fromMS(u64(offCreated)),
		LastSeenAt:    fromMS(u64(offLastSeen)),
		IdleExpiresAt: fromMS(u64(offIdle)),
		ExpiresAt:     fromMS(u64(offExpires)),
		IP:            parts[2],
		UserAgent:     parts[3],
		Method:        parts[4],
		DataVersion:   u64(offVersion),
	}
	if r[0] == recordV2 {
		var ok bool
		if s.Assurance, p, ok = readAssurance(r, p); !ok {
			return nil, errCorrupt
		}
	}
	if p < len(r) {
		s.Data = []byte(r[p:])
	}
	return s, nil
}

// The assurance block of session and family records (format 2):
//
//	off len field
//	  0   2 n, the length of the rest, big-endian uint16
//	  2   1 AAL
//	  3   8 AuthTime, Unix ms (0: zero)
//	 11   8 AAL2Time, Unix ms (0: zero)
//	 19   … AMR values separated by spaces (RFC 8176 values have none)
//
// The data scripts skip it by its length.
const assuranceFixed = 1 + 8 + 8

func assuranceSize(a session.Assurance) int {
	n := 2 + assuranceFixed
	for _, v := range a.AMR {
		n += len(v) + 1
	}
	return n
}

// appendAssurance appends the assurance block of a to b. An amr value
// holding a space, or a block over 65535 bytes, is refused.
func appendAssurance(b []byte, a session.Assurance) ([]byte, error) {
	n := assuranceSize(a) - 2
	if len(a.AMR) > 0 {
		n-- // no separator after the last value
	}
	if n > maxField {
		return nil, fmt.Errorf("assurance is %d bytes, more than %d", n, maxField)
	}
	if a.AAL < 0 || a.AAL > 255 {
		return nil, fmt.Errorf("aal %d out of range", a.AAL)
	}
	be := binary.BigEndian
	b = be.AppendUint16(b, uint16(n))
	b = append(b, byte(a.AAL))
	b = be.AppendUint64(b, uint64(ms(a.AuthTime)))
	b = be.AppendUint64(b, uint64(ms(a.AAL2Time)))
	for i, v := range a.AMR {
		if v == "" || strings.Contains(v, " ") {
			return nil, fmt.Errorf("amr value %q cannot be stored", v)
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, v...)
	}
	return b, nil
}

// readAssurance parses the assurance block at offset p of r and returns it
// with the offset after it; ok is false when r is too short.
func readAssurance(r string, p int) (a session.Assurance, next int, ok bool) {
	if p+2 > len(r) {
		return a, 0, false
	}
	n := u16At(r, p)
	p += 2
	if n < assuranceFixed || p+n > len(r) {
		return a, 0, false
	}
	a.AAL = session.AAL(r[p])
	a.AuthTime = fromMS(u64At(r, p+1))
	a.AAL2Time = fromMS(u64At(r, p+9))
	if amr := r[p+assuranceFixed : p+n]; amr != "" {
		a.AMR = strings.Fields(amr)
	}
	return a, p + n, true
}

// packInt64 returns v as 8 big-endian bytes, the form the scripts splice into
// a record.
func packInt64(vs ...int64) string {
	b := make([]byte, 0, 8*len(vs))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return string(b)
}
