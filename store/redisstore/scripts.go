package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/rueidis"
)

// script is a Lua script run with EVALSHA, falling back to EVAL when the
// server does not have it cached (first use, restart, failover). Every
// script touches exactly one key, so it runs on that key's cluster slot.
type script struct {
	src, sha string
}

func newScript(src string) *script {
	h := sha1.Sum([]byte(src)) // the script cache's name for it, not security
	return &script{src: src, sha: hex.EncodeToString(h[:])}
}

func (s *script) evalsha(c rueidis.Client, key string, args []string) rueidis.Completed {
	return c.B().Evalsha().Sha1(s.sha).Numkeys(1).Key(key).Arg(args...).Build()
}

func (s *script) eval(c rueidis.Client, key string, args []string) rueidis.Completed {
	return c.B().Eval().Script(s.src).Numkeys(1).Key(key).Arg(args...).Build()
}

func isNoScript(err error) bool {
	re, ok := rueidis.IsRedisErr(err)
	return ok && re.IsNoScript()
}

// exec runs the script on key.
func (s *script) exec(ctx context.Context, c rueidis.Client, key string, args ...string) rueidis.RedisResult {
	r := c.Do(ctx, s.evalsha(c, key, args))
	if isNoScript(r.Error()) {
		r = c.Do(ctx, s.eval(c, key, args))
	}
	return r
}

// scriptCall is one run of a script in execMulti.
type scriptCall struct {
	key  string
	args []string
}

// execMulti runs the script once per call, pipelined (in a cluster, each on
// its key's node), and returns the results in order.
func (s *script) execMulti(ctx context.Context, c rueidis.Client, calls []scriptCall) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(calls))
	for i, k := range calls {
		cmds[i] = s.evalsha(c, k.key, k.args)
	}
	res := c.DoMulti(ctx, cmds...)
	var again []int
	for i, r := range res {
		if isNoScript(r.Error()) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		cmds = cmds[:0]
		for _, i := range again {
			cmds = append(cmds, s.eval(c, calls[i].key, calls[i].args))
		}
		for j, r := range c.DoMulti(ctx, cmds...) {
			res[again[j]] = r
		}
	}
	return res
}

// luaDeadline is session.DeadlineOf in Lua, on Unix ms (an idle expiry of 0
// is none): deadline_of(idle, exp); and deadline(s), the deadline of a
// session or family record, whose idle and absolute expiry sit at the same
// offsets (record.go, refreshrecord.go; plus one: Lua strings are 1-based).
// Times are Unix ms, exact in Lua's doubles. TestLuaDeadline_MatchesGo runs
// it against the Go rule through redis-server.
const luaDeadline = `
local function deadline_of(idle, exp)
  if idle > 0 and idle < exp then return idle end
  return exp
end
local function deadline(s)
  return deadline_of(struct.unpack('>i8', s, 10), (struct.unpack('>i8', s, 18)))
end
`

// Shared Lua prelude for session records: the deadline (luaDeadline) and the
// owner.
const luaRecord = luaDeadline + `
local function owner(s)
  return string.sub(s, 51, 50 + struct.unpack('>I2', s, 42))
end
`

// touchScript sets LastSeenAt and IdleExpiresAt and moves the key's expiry
// to the new deadline.
//
//	KEYS[1] session key
//	ARGV[1] LastSeenAt..IdleExpiresAt, 16 bytes as in the record
//	ARGV[2] IdleExpiresAt, ms (0: none)
//	ARGV[3] now, ms
//
// Returns nil when the session is missing or past its deadline, else
// {owner, new deadline ms}.
var touchScript = newScript(luaRecord + `
local s = redis.call('GET', KEYS[1])
if not s or deadline(s) <= tonumber(ARGV[3]) then return false end
local dl = math.max(deadline_of(tonumber(ARGV[2]), (struct.unpack('>i8', s, 18))), 1)
redis.call('SET', KEYS[1], string.sub(s, 1, 1) .. ARGV[1] .. string.sub(s, 18), 'PXAT', dl)
return {owner(s), dl}
`)

// setDataScript is the compare-and-set of the session's data.
//
//	KEYS[1] session key
//	ARGV[1] expected DataVersion, 8 bytes
//	ARGV[2] new DataVersion, 8 bytes
//	ARGV[3] new data
//	ARGV[4] now, ms
//
// Returns -1 when the session is missing or past its deadline, 0 when the
// version differs, 1 when the data was replaced (expiry unchanged). The data
// starts after the variable fields and, in format 2, the assurance block.
var setDataScript = newScript(luaRecord + `
local s = redis.call('GET', KEYS[1])
if not s or deadline(s) <= tonumber(ARGV[4]) then return -1 end
if string.sub(s, 26, 33) ~= ARGV[1] then return 0 end
local off = 51 + struct.unpack('>I2', s, 42) + string.byte(s, 44) + struct.unpack('>I2', s, 45)
  + struct.unpack('>I2', s, 47) + struct.unpack('>I2', s, 49)
if string.byte(s, 1) == 2 then off = off + 2 + struct.unpack('>I2', s, off) end
redis.call('SET', KEYS[1], string.sub(s, 1, 25) .. ARGV[2] .. string.sub(s, 34, off - 1) .. ARGV[3], 'KEEPTTL')
return 1
`)

// deleteScript removes a session of a given user, for DeleteByUser: it finds
// session IDs in the user's index and must not delete another user's
// session should the index name one.
//
//	KEYS[1] session key
//	ARGV[1] now, ms
//	ARGV[2] the user ID
//
// Returns nil when there was no session, -1 when it belongs to another user
// (kept), else 1 if it was live or 0 if it was already past its deadline.
var deleteScript = newScript(luaRecord + deleteOwned)

// indexCleanScript removes members from an index.
//
//	KEYS[1] index key
//	ARGV[1] now, ms
//	ARGV[2] n
//	ARGV[3 .. 2+n]  members to remove
//	ARGV[3+n ..]    members to remove only if their score is still <= now
//
// Returns the number removed.
var indexCleanScript = newScript(`
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local removed = 0
for i = 3, 2 + n do removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
for i = 3 + n, #ARGV do
  local sc = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if sc and tonumber(sc) <= now then removed = removed + redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return removed
`)

// luaGCRA is the prelude of the GCRA scripts. Unix nanoseconds do not fit
// Lua's doubles exactly, so the scripts never do arithmetic on them: they
// compare decimal strings by splitting them into seconds and nanoseconds
// (each exact), and let INCRBY/DECRBY (64-bit integers in C) add. expireAt
// expires the key at its TAT (rounded up to the millisecond), when the key is
// as if never seen.
const luaGCRA = `
local function split(v)
  local n = #v
  if n <= 9 then return 0, tonumber(v) end
  return tonumber(string.sub(v, 1, n - 9)), tonumber(string.sub(v, n - 8))
end
local function before(a, b)
  local as, an = split(a)
  local bs, bn = split(b)
  return as < bs or (as == bs and an < bn)
end
local function expireAt(tat)
  local sec, nsec = split(tat)
  redis.call('PEXPIREAT', KEYS[1], sec * 1000 + math.ceil(nsec / 1000000))
end
`

// gcraReserveScript takes one event under GCRA if it is allowed, mirroring
// ratelimit.Check and ratelimit.Record in one atomic step: allowed while
// TAT ≤ now + τ, then TAT' = max(TAT, now) + T.
//
//	KEYS[1] limiter key
//	ARGV[1] now, Unix ns (decimal)
//	ARGV[2] T = the rate's Interval, ns (decimal)
//	ARGV[3] now + τ, the latest TAT that allows one more event, ns (decimal)
//
// Returns {1, new TAT} when taken, {0, TAT} when refused (nothing written).
var gcraReserveScript = newScript(luaGCRA + `
local tat = redis.call('GET', KEYS[1])
if tat and before(ARGV[3], tat) then return {0, tat} end
if not tat or before(tat, ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('INCRBY', KEYS[1], ARGV[2])
tat = redis.call('GET', KEYS[1])
expireAt(tat)
return {1, tat}
`)

// gcraRefundScript gives back one event, mirroring ratelimit.Unrecord:
// TAT' = TAT − T, and deletes the key once TAT' ≤ now.
//
//	KEYS[1] limiter key
//	ARGV[1] now, Unix ns (decimal)
//	ARGV[2] T, ns (decimal)
var gcraRefundScript = newScript(luaGCRA + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DECRBY', KEYS[1], ARGV[2])
local tat = redis.call('GET', KEYS[1])
if not before(ARGV[1], tat) then redis.call('DEL', KEYS[1]) return 0 end
expireAt(tat)
return 1
`)

// Shared Lua prelude for family records (refreshrecord.go): the deadline
// (luaDeadline) and the owner, which starts at offset 60.
const luaFamily = luaDeadline + `
local function owner(s)
  return string.sub(s, 60, 59 + struct.unpack('>I2', s, 50))
end
`

// spendScript is Rotate's linearization point: it marks a live refresh
// token spent and records, in the same record, the sealed pair and the
// successor (its ID, hash, generation and the family's new idle expiry), so
// that the spent record alone suffices to finish the rotation. Only one of
// several concurrent calls for a token finds it unspent.
//
//	KEYS[1] token key
//	ARGV[1] now, ms
//	ARGV[2] SpentAt, 8 bytes (never 0)
//	ARGV[3] successor's IdleExpiresAt and Generation, 16 bytes
//	ARGV[4] len(successor ID), len(successor hash): 2 bytes
//	ARGV[5] successor ID and hash
//	ARGV[6] sealed pair
//
// Returns nil when the token is missing or past its family's absolute
// expiry, 0 when it was spent already, else the spent record (expiry kept)
// without the sealed pair, which the caller has.
var spendScript = newScript(`
local s = redis.call('GET', KEYS[1])
if not s or struct.unpack('>i8', s, 18) <= tonumber(ARGV[1]) then return false end
if struct.unpack('>i8', s, 10) ~= 0 then return 0 end
s = string.sub(s, 1, 9) .. ARGV[2] .. string.sub(s, 18, 25) .. ARGV[3] .. string.sub(s, 42, 46) .. ARGV[4]
  .. string.sub(s, 49) .. ARGV[5]
redis.call('SET', KEYS[1], s .. ARGV[6], 'KEEPTTL')
return s
`)

// advanceScript applies a rotation to its family, idempotently: when the
// family's Generation is at most that of the spent token, it becomes the
// token's generation plus one, LastUsedAt and IdleExpiresAt are set and the
// key's expiry moves to the new deadline; otherwise (the rotation, or a
// later one, was applied already) the family is left as it is.
//
//	KEYS[1] family key
//	ARGV[1] the spent token's Generation (decimal)
//	ARGV[2] LastUsedAt..IdleExpiresAt, 16 bytes as in the record
//	ARGV[3] IdleExpiresAt, ms (0: none)
//	ARGV[4] now, ms
//	ARGV[5] the new Generation, 8 bytes
//
// Returns nil when the family is missing or past its deadline, else the
// family record as it now is.
var advanceScript = newScript(luaFamily + `
local s = redis.call('GET', KEYS[1])
if not s or deadline(s) <= tonumber(ARGV[4]) then return false end
if struct.unpack('>i8', s, 42) <= tonumber(ARGV[1]) then
  local dl = math.max(deadline_of(tonumber(ARGV[3]), (struct.unpack('>i8', s, 18))), 1)
  s = string.sub(s, 1, 1) .. ARGV[2] .. string.sub(s, 18, 41) .. ARGV[5] .. string.sub(s, 50)
  redis.call('SET', KEYS[1], s, 'PXAT', dl)
end
return s
`)

// setFamilyDataScript is the compare-and-set of a family's data.
//
//	KEYS[1] family key
//	ARGV[1] expected DataVersion, 8 bytes
//	ARGV[2] new DataVersion, 8 bytes
//	ARGV[3] new data
//	ARGV[4] now, ms
//
// Returns -1 when the family is missing or past its deadline, 0 when the
// version differs, 1 when the data was replaced (expiry unchanged).
var setFamilyDataScript = newScript(luaFamily + `
local s = redis.call('GET', KEYS[1])
if not s or deadline(s) <= tonumber(ARGV[4]) then return -1 end
if string.sub(s, 26, 33) ~= ARGV[1] then return 0 end
local off = 60 + struct.unpack('>I2', s, 50) + struct.unpack('>I2', s, 52) + struct.unpack('>I2', s, 54)
  + struct.unpack('>I2', s, 56) + struct.unpack('>I2', s, 58)
if string.byte(s, 1) == 2 then off = off + 2 + struct.unpack('>I2', s, off) end
redis.call('SET', KEYS[1], string.sub(s, 1, 25) .. ARGV[2] .. string.sub(s, 34, off - 1) .. ARGV[3], 'KEEPTTL')
return 1
`)

// deleteFamilyScript removes a family of a given user, for RevokeFamilies
// (which finds family IDs in the user's index).
//
//	KEYS[1] family key
//	ARGV[1] now, ms
//	ARGV[2] the user ID
//
// Returns nil when there was no family, -1 when it belongs to another user
// (kept), else 1 if it was live or 0 if it was already past its deadline.
var deleteFamilyScript = newScript(luaFamily + deleteOwned)

// deleteOwned is the body of deleteScript and deleteFamilyScript, after the
// prelude that defines owner() and deadline() for the record's layout.
const deleteOwned = `
local s = redis.call('GET', KEYS[1])
if not s then return false end
if owner(s) ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
if deadline(s) <= tonumber(ARGV[1]) then return 0 end
return 1
`

// denyScript adds a denylist entry, keeping the later of an existing
// entry's expiry and the new one: the entry is the key's existence, its
// expiry the "until".
//
//	KEYS[1] denylist key
//	ARGV[1] until, ms (in the future)
//
// Returns 1 when the entry was set or extended, 0 when it already lasts
// at least as long.
var denyScript = newScript(`
local t = redis.call('PEXPIRETIME', KEYS[1])
if t == -1 or t >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])
return 1
`)
