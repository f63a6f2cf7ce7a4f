"""The Lua scripts of the Redis budget counters. Each runs atomically.

A counter is a hash per budget and period:
  u, p        spend: whole micro-dollars and the pico-dollar rest (0..999,999)
  r           micro-dollars reserved by calls in flight
  b<min>u/p   spend of calls that arrived in minute <min> (epoch minutes), kept
              until the reconcile job has compared them with the ledger
and a sorted set `<key>:res` of open reservations, member "<id>:<micro>",
scored by the epoch second at which the reservation lapses. Time is Redis's
own (TIME), so replicas with skewed clocks agree on what has lapsed.
"""

_COMMON = """
local now = tonumber(redis.call('TIME')[1])
local MICRO = 1000000

local function amount_of(member) return tonumber(string.match(member, ':(%d+)$')) end

-- Add (du micro, dp pico) to the fields uf/pf, keeping pf within 0..999,999 (exact below 2^53).
local function add(hash, uf, pf, du, dp)
  if du ~= 0 then redis.call('HINCRBY', hash, uf, du) end
  local p = redis.call('HINCRBY', hash, pf, dp)
  if p >= MICRO or p < 0 then
    local carry = math.floor(p / MICRO)
    redis.call('HINCRBY', hash, uf, carry)
    redis.call('HINCRBY', hash, pf, -carry * MICRO)
  end
end

-- Release reservations that lapsed (their process died or hung): they hold no money any more.
local function purge(hash, zset)
  local gone = redis.call('ZRANGEBYSCORE', zset, '-inf', now)
  if #gone == 0 then return 0 end
  local freed = 0
  for _, member in ipairs(gone) do freed = freed + amount_of(member) end
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', now)
  redis.call('HINCRBY', hash, 'r', -freed)
  return #gone
end

local function expire(hash, zset, at)
  if at > 0 then
    redis.call('EXPIREAT', hash, at)
    redis.call('EXPIREAT', zset, at)
  end
end
"""

# KEYS: 2 per budget: counter hash, reservations zset.
# ARGV: reservation member, ttl s, cost micro, then 3 per budget: amount micro, mode (0 count,
#       1 refuse when full, 2 ask for a downgrade when full), expire_at (0: never).
# Admits only if every budget in modes 1 and 2 has room (spent + reserved + cost <= amount), then
# reserves the cost on all of them. Otherwise reserves nothing and names the budget to blame: a
# refusing one before a downgrading one, and among those the one with the least left.
# Returns {verdict (0 admitted, 1 refused, 2 downgrade), budget index (1-based), micro left}.
RESERVE = _COMMON + """
local member, ttl, cost = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local n = #KEYS / 2
local blame, blame_mode, blame_left = 0, 0, 0
for i = 1, n do
  local hash, zset = KEYS[2 * i - 1], KEYS[2 * i]
  purge(hash, zset)
  local amount, mode = tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  if mode > 0 then
    local v = redis.call('HMGET', hash, 'u', 'p', 'r')
    local rest = tonumber(v[2]) or 0
    local used = (tonumber(v[1]) or 0) + (tonumber(v[3]) or 0) + (rest > 0 and 1 or 0)
    if used + cost > amount then
      local left = math.max(amount - used, 0)
      if blame == 0 or mode < blame_mode or (mode == blame_mode and left < blame_left) then
        blame, blame_mode, blame_left = i, mode, left
      end
    end
  end
end
if blame > 0 then return {blame_mode, blame, blame_left} end
for i = 1, n do
  local hash, zset = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('HINCRBY', hash, 'r', cost)
  redis.call('ZADD', zset, now + ttl, member)
  expire(hash, zset, tonumber(ARGV[3 * i + 3]))
end
return {0, 0, 0}
"""

# KEYS: 2 per counter: counter hash, reservations zset.
# ARGV: reservation member, reserved micro, actual micro, actual pico rest, arrival minute,
#       then 2 per counter: flags (1 release the reservation, 2 charge the actual cost), expire_at.
# A reservation that already lapsed was released by `purge`; the actual cost is charged anyway.
SETTLE = _COMMON + """
local member, reserved = ARGV[1], tonumber(ARGV[2])
local du, dp, minute = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
for i = 1, #KEYS / 2 do
  local hash, zset = KEYS[2 * i - 1], KEYS[2 * i]
  local flags = tonumber(ARGV[2 * i + 4])
  if flags % 2 == 1 and redis.call('ZREM', zset, member) == 1 then
    redis.call('HINCRBY', hash, 'r', -reserved)
  end
  if flags >= 2 and (du > 0 or dp > 0) then
    add(hash, 'u', 'p', du, dp)
    add(hash, 'b' .. minute .. 'u', 'b' .. minute .. 'p', du, dp)
    expire(hash, zset, tonumber(ARGV[2 * i + 5]))
  end
end
return 0
"""

# KEYS: counter hash, reservations zset.
# ARGV: cut (epoch minute), the ledger's spend of the period before the cut (micro, pico rest),
#       expire_at, then 3 per minute at or after the cut: the ledger's spend of that minute
#       (minute, micro, pico rest).
# The ledger trails the counters by the usage stream's drain, so only calls that arrived before
# the cut are compared; the buckets from the cut on stay as they are. A counter that does not
# exist yet (new period, Redis restarted empty) has settled nothing: it takes the ledger's whole
# period, its recent minutes as buckets, so the next run compares them like any others.
# Also drops lapsed reservations and recomputes the reserved total from the open ones.
# Returns {drift micro, drift pico rest, lapsed reservations, reserved micro, open reservations,
#          1 if the counter was new}.
RECONCILE = _COMMON + """
local hash, zset, cut = KEYS[1], KEYS[2], tonumber(ARGV[1])
local held_u, held_p, lu, lp = 0, 0, tonumber(ARGV[2]), tonumber(ARGV[3])
local fresh = redis.call('EXISTS', hash) == 0
if not fresh then
  local fields = redis.call('HGETALL', hash)
  for i = 1, #fields, 2 do
    local name, value = fields[i], tonumber(fields[i + 1])
    if name == 'u' then held_u = held_u + value
    elseif name == 'p' then held_p = held_p + value
    else
      local minute, part = string.match(name, '^b(%d+)([up])$')
      if minute and tonumber(minute) >= cut then
        if part == 'u' then held_u = held_u - value else held_p = held_p - value end
      elseif minute then
        redis.call('HDEL', hash, name)
      end
    end
  end
else
  for i = 5, #ARGV, 3 do
    local minute, du, dp = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
    add(hash, 'b' .. minute .. 'u', 'b' .. minute .. 'p', du, dp)
    lu, lp = lu + du, lp + dp
  end
end
local du, dp = lu - held_u, lp - held_p
if du ~= 0 or dp ~= 0 then add(hash, 'u', 'p', du, dp) end
local lapsed = purge(hash, zset)
local reserved, open = 0, redis.call('ZRANGE', zset, 0, -1)
for _, member in ipairs(open) do reserved = reserved + amount_of(member) end
redis.call('HSET', hash, 'r', reserved)
expire(hash, zset, tonumber(ARGV[4]))
-- As strings: a Lua number returned to Redis is cut to an integer, and tostring() rounds.
return {string.format('%.0f', du), string.format('%.0f', dp), lapsed, reserved, #open, fresh and 1 or 0}
"""
