"""The sliding-window limiter on Redis, shared by every replica: `limiter_memory`'s algorithm, line for line, in
Lua. One script call per operation (acquire every rule of a request, settle, release), so each is atomic and
all-or-nothing across rules without locks or WATCH retries.

Per counter three keys under `<key_prefix>rl:<counter>`:
    :l  LIST of "bucket_ms:amount", oldest first (the log; the newest bucket absorbs amounts stamped earlier)
    :m  HASH  t = settled total in the log, r = reserved total, r:<rid> = one in-flight reservation
    :x  ZSET  rid → reservation expiry (ms), so a reservation left by a crashed replica lapses
Every write sets a TTL covering the newest bucket's window (and live reservations), so idle counters vanish.
Two sorted sets index the live counters by when they expire (counter key → ms), with TTLs of their own:
    <key_prefix>rl:~live        every counter (its size is the live-counter gauge)
    <key_prefix>rl:~g:<group>   segmented counters of one gateway key or organisation; past
                                `max_segment_counters` the ones expiring soonest (least recently used, for equal
                                windows) are deleted, as `limiter_memory` drops its least recently used

Time is Redis's own clock (`TIME`) unless a test passes `now_ms`: replicas with skewed clocks still agree.
The script reads several keys, so on Redis Cluster the prefix must carry a hash tag (e.g. `{switchyard}:`) to put
every counter in one slot (the indexes and evicted counters are named from the prefix inside the script, so
they land in that slot too); plain Redis and Sentinel need nothing.
"""

from __future__ import annotations

from typing import Any

from .limiter_types import REQUESTS, USD, Charge, Decision
from .redis_client import failures, timeouts

_COMMON = """
local function parse(item)
  local sep = string.find(item, ':', 1, true)
  return tonumber(string.sub(item, 1, sep - 1)), tonumber(string.sub(item, sep + 1))
end
local prefix, cap = ARGV[4], tonumber(ARGV[5])
local live = prefix .. '~live'
local touched, current, evicted = {}, {}, 0
local function clock()
  local now = tonumber(ARGV[1])
  if now then return now end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- log `amount` at `now`; returns the bucket it landed in
local function add(lk, mk, now, window, amount, total)
  local grain = math.max(1, math.floor(window / 1000))
  local bucket = math.ceil(now / grain) * grain
  local last = redis.call('LINDEX', lk, -1)
  if last then
    local ts, a = parse(last)
    if ts >= bucket then
      redis.call('LSET', lk, -1, string.format('%d:%d', ts, a + amount))
      bucket = ts
    else
      redis.call('RPUSH', lk, string.format('%d:%d', bucket, amount))
    end
  else
    redis.call('RPUSH', lk, string.format('%d:%d', bucket, amount))
  end
  redis.call('HSET', mk, 't', string.format('%d', total + amount))
  return bucket
end
-- index a written counter (its key base) by when it expires, in `live` and in its group
local function mark(lk, group, expires)
  local base = string.sub(lk, 1, -3)
  current[base] = true
  redis.call('ZADD', live, expires, base)
  if group ~= '' then
    local gk = prefix .. '~g:' .. group
    redis.call('ZADD', gk, expires, base)
    touched[gk] = true
  end
end
local function expire_set(k, now)
  local top = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIRE', k, math.max(1, tonumber(top[2]) - now)) end
end
-- drop what expired from the indexes, evict over-cap group members; returns the live count
local function finish(now)
  for gk in pairs(touched) do
    redis.call('ZREMRANGEBYSCORE', gk, '-inf', now)
    local n = redis.call('ZCARD', gk)
    if n > cap then
      for _, b in ipairs(redis.call('ZRANGE', gk, 0, n - cap - 1)) do
        if not current[b] then
          redis.call('DEL', b .. ':l', b .. ':m', b .. ':x')
          redis.call('ZREM', gk, b)
          redis.call('ZREM', live, b)
          evicted = evicted + 1
        end
      end
    end
    expire_set(gk, now)
  end
  redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
  expire_set(live, now)
  return redis.call('ZCARD', live)
end
local function keep(lk, mk, xk, now, window, reserved, ttl)
  local ms = window + math.max(1, math.floor(window / 1000))
  local last = redis.call('LINDEX', lk, -1)
  if last then
    local ts = parse(last)
    ms = math.max(ms, ts + window - now)
  end
  if reserved > 0 then ms = math.max(ms, ttl) end
  redis.call('PEXPIRE', lk, ms)
  redis.call('PEXPIRE', mk, ms)
  redis.call('PEXPIRE', xk, ms)
  return now + ms
end
"""

# KEYS: 3 per charge. ARGV: now|"", rid, reservation ttl ms, counter key prefix, group cap, then per charge: metric
# (r|t|u), limit, window ms, amount, group ("" for none).
# Returns {admitted, blocked (0-based, -1), retry ms, live counters, evicted, then per charge: used, reset ms (-1:
# empty log)}.
ACQUIRE = """
local now = clock()
local rid, ttl = ARGV[2], tonumber(ARGV[3])
local n = #KEYS / 3
local used, totals, reserved, resets = {}, {}, {}, {}
local blocked, wait = -1, 0
for i = 1, n do
  local lk, mk, xk = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local a = 5 + 5 * (i - 1)
  local limit, window = tonumber(ARGV[a+2]), tonumber(ARGV[a+3])
  local m = redis.call('HMGET', mk, 't', 'r')
  local total, res = tonumber(m[1]) or 0, tonumber(m[2]) or 0
  local t0, r0 = total, res
  resets[i] = -1
  while true do
    local head = redis.call('LINDEX', lk, 0)
    if not head then break end
    local ts, amount = parse(head)
    if ts + window > now then resets[i] = ts + window - now; break end
    total = total - amount
    redis.call('LPOP', lk)
  end
  if res > 0 then
    local lapsed = redis.call('ZRANGEBYSCORE', xk, '-inf', now)
    for _, id in ipairs(lapsed) do
      local f = 'r:' .. id
      res = res - (tonumber(redis.call('HGET', mk, f)) or 0)
      redis.call('HDEL', mk, f)
    end
    if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', xk, '-inf', now) end
  end
  if total ~= t0 or res ~= r0 then
    redis.call('HSET', mk, 't', string.format('%d', total), 'r', string.format('%d', res))
  end
  totals[i], reserved[i], used[i] = total, res, total + res
  if used[i] >= limit then
    local excess, freed, w = used[i] - limit + 1, 0, math.min(window, 1000)  -- RESERVED_RETRY_MS
    for _, item in ipairs(redis.call('LRANGE', lk, 0, -1)) do
      local ts, amount = parse(item)
      freed = freed + amount
      if freed >= excess then w = math.max(1, ts + window - now); break end
    end
    if w > wait then blocked, wait = i - 1, w end
  end
end
local out = {0, blocked, wait, 0, 0}
if blocked < 0 then
  out[1] = 1
  for i = 1, n do
    local lk, mk, xk = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
    local a = 5 + 5 * (i - 1)
    local metric, window, amount, group = ARGV[a+1], tonumber(ARGV[a+3]), tonumber(ARGV[a+4]), ARGV[a+5]
    if metric == 'r' and amount > 0 then
      local bucket = add(lk, mk, now, window, amount, totals[i])
      used[i] = used[i] + amount
      if resets[i] < 0 then resets[i] = bucket + window - now end
      mark(lk, group, keep(lk, mk, xk, now, window, reserved[i], ttl))
    elseif metric == 'u' and amount > 0 then
      local f = 'r:' .. rid
      local res = reserved[i] - (tonumber(redis.call('HGET', mk, f)) or 0) + amount
      redis.call('HSET', mk, f, string.format('%d', amount), 'r', string.format('%d', res))
      redis.call('ZADD', xk, now + ttl, rid)
      used[i] = used[i] + amount
      mark(lk, group, keep(lk, mk, xk, now, window, res, ttl))
    end
  end
end
out[4] = finish(now)
out[5] = evicted
for i = 1, n do
  out[#out + 1] = used[i]
  out[#out + 1] = resets[i]
end
return out
"""

# KEYS: 3 per charge. ARGV: as ACQUIRE. Returns {live counters, evicted}.
SETTLE = """
local now = clock()
local rid, ttl = ARGV[2], tonumber(ARGV[3])
for i = 1, #KEYS / 3 do
  local lk, mk, xk = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local a = 5 + 5 * (i - 1)
  local metric, window, amount, group = ARGV[a+1], tonumber(ARGV[a+3]), tonumber(ARGV[a+4]), ARGV[a+5]
  local m = redis.call('HMGET', mk, 't', 'r')
  local total, res = tonumber(m[1]) or 0, tonumber(m[2]) or 0
  local held = nil
  if metric == 'u' then
    local f = 'r:' .. rid
    held = tonumber(redis.call('HGET', mk, f))
    if held then
      res = res - held
      redis.call('HDEL', mk, f)
      redis.call('HSET', mk, 'r', string.format('%d', res))
      redis.call('ZREM', xk, rid)
    end
  end
  if amount > 0 then add(lk, mk, now, window, amount, total) end
  if amount > 0 or held then mark(lk, group, keep(lk, mk, xk, now, window, res, ttl)) end
end
return {finish(now), evicted}
"""

_METRIC = {REQUESTS: b"r", "tokens": b"t", USD: b"u"}


class RedisLimiter:
    """Same contract as `MemoryLimiter` (acquire / settle / release), one Lua call each. Errors (connection,
    timeout) propagate: what to do about them (fail open or closed) is the caller's policy."""

    local = False

    def __init__(
        self,
        redis: Any,
        key_prefix: str,
        reservation_ttl_ms: int = 3_600_000,
        *,
        owns_client: bool = True,
        max_segment_counters: int = 10_000,
    ) -> None:
        self._redis = redis
        self._owns = owns_client
        self._prefix = key_prefix + "rl:"
        self._ttl = reservation_ttl_ms
        self._cap = max_segment_counters
        self.live: int | None = None  # live counters in Redis (all replicas), as of the last script call
        self.failures = failures()  # Redis down or slow: the caller decides (fail open or closed)
        self.timeouts = timeouts()  # ... and of those, the ones after which the script may still have run
        self.evicted = 0  # segmented counters this process's calls evicted
        self._acquire = redis.register_script(_COMMON + ACQUIRE)
        self._settle = redis.register_script(_COMMON + SETTLE)

    def _keys(self, charges: list[Charge]) -> list[str]:
        keys: list[str] = []
        for c in charges:
            base = self._prefix + c.counter
            keys += (base + ":l", base + ":m", base + ":x")
        return keys

    def _args(self, rid: str, charges: list[Charge], now_ms: int | None) -> list[Any]:
        args: list[Any] = ["" if now_ms is None else now_ms, rid, self._ttl, self._prefix, self._cap]
        for c in charges:
            args += (_METRIC[c.metric], c.limit, c.window_ms, c.amount, c.group)
        return args

    async def acquire(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> Decision:
        out = await self._acquire(keys=self._keys(charges), args=self._args(rid, charges, now_ms))
        self.live = int(out[3])
        self.evicted += int(out[4])
        used = [int(v) for v in out[5::2]]
        resets = [None if int(v) < 0 else int(v) for v in out[6::2]]
        return Decision(bool(out[0]), used, resets, int(out[1]), int(out[2]))

    async def settle(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None:
        charges = [c for c in charges if c.metric != REQUESTS]
        if charges:
            out = await self._settle(keys=self._keys(charges), args=self._args(rid, charges, now_ms))
            self.live = int(out[0])
            self.evicted += int(out[1])

    async def release(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None:
        await self.settle(
            rid, [Charge(c.counter, c.metric, c.limit, c.window_ms, 0, c.group) for c in charges], now_ms
        )

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        if self._owns:
            await self._redis.aclose()
