"""The sliding-window limiter on Redis, shared by every replica: `limiter_memory`'s algorithm, line for line, in
Lua. One script call per operation (acquire every rule of a request, settle, release), so each is atomic and
all-or-nothing across rules without locks or WATCH retries.

Per counter three keys under `<key_prefix>rl:<counter>`:
    :l  LIST of "bucket_ms:amount", oldest first (the log; the newest bucket absorbs amounts stamped earlier)
    :m  HASH  t = settled total in the log, r = reserved total, r:<rid> = one in-flight reservation
    :x  ZSET  rid → reservation expiry (ms), so a reservation left by a crashed replica lapses
Every write sets a TTL covering the newest bucket's window (and live reservations), so idle counters vanish.

Time is Redis's own clock (`TIME`) unless a test passes `now_ms`: replicas with skewed clocks still agree.
The script reads several keys, so on Redis Cluster the prefix must carry a hash tag (e.g. `{switchyard}:`) to put
every counter in one slot; plain Redis and Sentinel need nothing.
"""

from __future__ import annotations

from typing import Any

from .limiter_memory import REQUESTS, USD, Charge, Decision

_COMMON = """
local function parse(item)
  local sep = string.find(item, ':', 1, true)
  return tonumber(string.sub(item, 1, sep - 1)), tonumber(string.sub(item, sep + 1))
end
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
end
"""

# KEYS: 3 per charge. ARGV: now|"", rid, reservation ttl ms, then per charge: metric (r|t|u), limit, window ms, amount.
# Returns {admitted, blocked (0-based, -1), retry ms, then per charge: used, reset ms (-1: empty log)}.
ACQUIRE = """
local now = clock()
local rid, ttl = ARGV[2], tonumber(ARGV[3])
local n = #KEYS / 3
local used, totals, reserved, resets = {}, {}, {}, {}
local blocked, wait = -1, 0
for i = 1, n do
  local lk, mk, xk = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local a = 3 + 4 * (i - 1)
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
local out = {0, blocked, wait}
if blocked < 0 then
  out[1] = 1
  for i = 1, n do
    local lk, mk, xk = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
    local a = 3 + 4 * (i - 1)
    local metric, window, amount = ARGV[a+1], tonumber(ARGV[a+3]), tonumber(ARGV[a+4])
    if metric == 'r' and amount > 0 then
      local bucket = add(lk, mk, now, window, amount, totals[i])
      used[i] = used[i] + amount
      if resets[i] < 0 then resets[i] = bucket + window - now end
      keep(lk, mk, xk, now, window, reserved[i], ttl)
    elseif metric == 'u' and amount > 0 then
      local f = 'r:' .. rid
      local res = reserved[i] - (tonumber(redis.call('HGET', mk, f)) or 0) + amount
      redis.call('HSET', mk, f, string.format('%d', amount), 'r', string.format('%d', res))
      redis.call('ZADD', xk, now + ttl, rid)
      used[i] = used[i] + amount
      keep(lk, mk, xk, now, window, res, ttl)
    end
  end
end
for i = 1, n do
  out[#out + 1] = used[i]
  out[#out + 1] = resets[i]
end
return out
"""

# KEYS: 3 per charge. ARGV: now|"", rid, reservation ttl ms, then per charge: metric, limit, window ms, amount.
SETTLE = """
local now = clock()
local rid, ttl = ARGV[2], tonumber(ARGV[3])
for i = 1, #KEYS / 3 do
  local lk, mk, xk = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local a = 3 + 4 * (i - 1)
  local metric, window, amount = ARGV[a+1], tonumber(ARGV[a+3]), tonumber(ARGV[a+4])
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
  if amount > 0 or held then keep(lk, mk, xk, now, window, res, ttl) end
end
return 1
"""

_METRIC = {REQUESTS: b"r", "tokens": b"t", USD: b"u"}


class RedisLimiter:
    """Same contract as `MemoryLimiter` (acquire / settle / release), one Lua call each. Errors (connection,
    timeout) propagate: what to do about them (fail open or closed) is the caller's policy."""

    local = False

    def __init__(self, redis: Any, key_prefix: str, reservation_ttl_ms: int = 3_600_000, *,
                 owns_client: bool = True) -> None:
        self._redis = redis
        self._owns = owns_client
        self._prefix = key_prefix + "rl:"
        self._ttl = reservation_ttl_ms
        self._acquire = redis.register_script(_COMMON + ACQUIRE)
        self._settle = redis.register_script(_COMMON + SETTLE)

    def _keys(self, charges: list[Charge]) -> list[str]:
        keys = []
        for c in charges:
            base = self._prefix + c.counter
            keys += (base + ":l", base + ":m", base + ":x")
        return keys

    def _args(self, rid: str, charges: list[Charge], now_ms: int | None) -> list[Any]:
        args: list[Any] = ["" if now_ms is None else now_ms, rid, self._ttl]
        for c in charges:
            args += (_METRIC[c.metric], c.limit, c.window_ms, c.amount)
        return args

    async def acquire(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> Decision:
        out = await self._acquire(keys=self._keys(charges), args=self._args(rid, charges, now_ms))
        used = [int(v) for v in out[3::2]]
        resets = [None if int(v) < 0 else int(v) for v in out[4::2]]
        return Decision(bool(out[0]), used, resets, int(out[1]), int(out[2]))

    async def settle(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None:
        charges = [c for c in charges if c.metric != REQUESTS]
        if charges:
            await self._settle(keys=self._keys(charges), args=self._args(rid, charges, now_ms))

    async def release(self, rid: str, charges: list[Charge], now_ms: int | None = None) -> None:
        await self.settle(
            rid, [Charge(c.counter, c.metric, c.limit, c.window_ms, 0) for c in charges], now_ms
        )

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        if self._owns:
            await self._redis.aclose()
