"""The Lua scripts of the Redis limiter. Each runs atomically; time is Redis's own (TIME), so
replicas with skewed clocks still share one window."""

_CLOCK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS: per rule, in order, those of its limited metrics: requests log (rpm), tokens log and
#       tokens total (tpm), leases (max_parallel).
# ARGV: member, tokens needed, window ms, lease ttl ms, parallel wait ms,
#       then 3 per rule: rpm, tpm, max_parallel (-1: not limited).
# Returns one string (redis-py parses a flat string far faster than an array): "admitted, refused rule
# (1-based, 0: none), metric (1 requests, 2 tokens, 3 parallel), wait ms, now ms, tightest requests
# limit, left, reset ms, tightest tokens limit, left, reset ms", space-separated.
ACQUIRE = _CLOCK + """
local member, need = ARGV[1], tonumber(ARGV[2])
local window, ttl, parallel_wait = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cutoff = now - window
local PAGE = 128

local function tokens_of(entry) return tonumber(string.match(entry, ':(%-?%d+)$')) end

local function expires_in(key, rank)
  local entry = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
  if entry[2] == nil then return 0 end
  return math.max(tonumber(entry[2]) + window - now, 0)
end

-- The total is the log's sum kept up to date; when it is gone (evicted or flushed apart from its
-- log) or negative, it is summed again from the log: rare, and the log is the truth.
local function recount(log, total)
  local sum, start = 0, 0
  while true do
    local page = redis.call('ZRANGE', log, start, start + PAGE - 1)
    if #page == 0 then break end
    for _, entry in ipairs(page) do sum = sum + tokens_of(entry) end
    start = start + PAGE
  end
  redis.call('SET', total, sum, 'PX', window)
  return sum
end

local function tokens_used(log, total)
  local gone = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #gone > 0 then
    local freed = 0
    for _, entry in ipairs(gone) do freed = freed + tokens_of(entry) end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
    redis.call('DECRBY', total, freed)
  end
  if redis.call('ZCARD', log) == 0 then
    redis.call('DEL', total)  -- also heals a total that outlived its log
    return 0
  end
  local sum = tonumber(redis.call('GET', total) or -1)
  if sum < 0 then return recount(log, total) end
  return sum
end

local function tokens_wait(log, excess)
  local freed, start = 0, 0
  while true do
    local page = redis.call('ZRANGE', log, start, start + PAGE - 1, 'WITHSCORES')
    if #page == 0 then return window end
    for i = 1, #page, 2 do
      freed = freed + tokens_of(page[i])
      if freed >= excess then return math.max(tonumber(page[i + 1]) + window - now, 0) end
    end
    start = start + PAGE
  end
end

local rules = (#ARGV - 5) / 3
local limits, keys, used = {}, {}, {}
local refused, metric, wait = 0, 0, -1
local function refuse(i, code, ms)
  if ms > wait then refused, metric, wait = i, code, ms end
end

local cursor = 1
local function next_key()
  cursor = cursor + 1
  return KEYS[cursor - 1]
end

for i = 1, rules do
  local rpm, tpm, par = tonumber(ARGV[3 * i + 3]), tonumber(ARGV[3 * i + 4]), tonumber(ARGV[3 * i + 5])
  local k, u = {}, {0, 0, 0}
  if rpm >= 0 then
    k.r = next_key()
    redis.call('ZREMRANGEBYSCORE', k.r, '-inf', cutoff)
    u[1] = redis.call('ZCARD', k.r)
    if u[1] + 1 > rpm then
      if rpm == 0 then refuse(i, 1, window) else refuse(i, 1, expires_in(k.r, u[1] - rpm)) end
    end
  end
  if tpm >= 0 then
    k.t, k.n = next_key(), next_key()
    u[2] = tokens_used(k.t, k.n)
    if u[2] + need > tpm then
      if need > tpm then refuse(i, 2, window) else refuse(i, 2, tokens_wait(k.t, u[2] + need - tpm)) end
    end
  end
  if par >= 0 then
    k.p = next_key()
    redis.call('ZREMRANGEBYSCORE', k.p, '-inf', now)  -- leases their process stopped renewing
    u[3] = redis.call('ZCARD', k.p)
    if u[3] + 1 > par then refuse(i, 3, parallel_wait) end
  end
  limits[i], keys[i], used[i] = {rpm, tpm, par}, k, u
end

if refused == 0 then
  for i = 1, rules do
    local k, l = keys[i], limits[i]
    if l[1] >= 0 then
      redis.call('ZADD', k.r, now, member)
      redis.call('PEXPIRE', k.r, window)
      used[i][1] = used[i][1] + 1
    end
    if l[2] >= 0 then
      redis.call('ZADD', k.t, now, member .. ':' .. need)
      redis.call('INCRBY', k.n, need)
      redis.call('PEXPIRE', k.t, window)
      redis.call('PEXPIRE', k.n, window)
      used[i][2] = used[i][2] + need
    end
    if l[3] >= 0 then
      redis.call('ZADD', k.p, now + ttl, member)
      redis.call('PEXPIRE', k.p, ttl)
    end
  end
end

local rq, tk = {-1, -1, 0, 0}, {-1, -1, 0, 0}
local function tighter(best, limit, left, i)
  if best[1] < 0 or left < best[2] or (left == best[2] and limit < best[1]) then return {limit, left, 0, i} end
  return best
end
for i = 1, rules do
  local l, u = limits[i], used[i]
  if l[1] >= 0 then rq = tighter(rq, l[1], l[1] - u[1], i) end
  if l[2] >= 0 then tk = tighter(tk, l[2], l[2] - u[2], i) end
end
if rq[4] > 0 then rq[3] = expires_in(keys[rq[4]].r, 0) end
if tk[4] > 0 then tk[3] = expires_in(keys[tk[4]].t, 0) end
local admitted = 0
if refused == 0 then admitted = 1 end
local out = {admitted, refused, metric, wait, now, rq[1], rq[2], rq[3], tk[1], tk[2], tk[3]}
for i = 1, #out do out[i] = string.format('%d', out[i]) end
return table.concat(out, ' ')
"""

# KEYS: 2 per token rule (log, total), then one leases key per rule holding a slot.
# ARGV: member, tokens held, tokens used, taken at (ms), window ms, number of token rules.
# Redis runs this beside every acquire, so it spends as few calls as it can (5 per token rule, was 7):
# the total's new value comes back from INCRBY/DECRBY (no GET), and the log keeps the expiry the
# acquire gave it (at + window or later; an entry dated `at` leaves by then), which holds only if
# the log never empties on the way: a sorted set emptied by ZREM is deleted, expiry and all, and
# the ZADD after it would make a new one that never expires. So the use is added before the hold
# is removed, and the log gets a new expiry only when its entry is dated now or the hold was gone
# (the keys had expired, or were evicted or flushed). A total found negative was lost and
# recreated on the way: it is dropped, and the next acquire sums the log again.
SETTLE = _CLOCK + """
local member, held, used = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local at, window, token_rules = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local when = at  -- same moment, real size
if at + window <= now then when = now end  -- the call outlived the window: count its use from now
local hold, use = member .. ':' .. held, member .. ':' .. used
for i = 1, token_rules do
  local log, total = KEYS[2 * i - 1], KEYS[2 * i]
  local sum, renew = nil, when ~= at and used > 0
  if used > 0 and use == hold then
    -- the estimate was exact: the entry stays (moved to `when`), counted already unless it was gone
    if redis.call('ZADD', log, when, use) == 1 then
      sum, renew = redis.call('INCRBY', total, used), true
    end
  else
    if used > 0 then
      redis.call('ZADD', log, when, use)
      sum = redis.call('INCRBY', total, used)
    end
    if redis.call('ZREM', log, hold) == 1 then
      sum = redis.call('DECRBY', total, held)
    elseif used > 0 then
      renew = true
    end
  end
  if renew then redis.call('PEXPIRE', log, window) end
  if sum ~= nil and sum < 0 then
    redis.call('DEL', total)  -- it had been lost meanwhile: the next acquire sums the log again
  else
    redis.call('PEXPIRE', total, window)
  end
end
for j = 2 * token_rules + 1, #KEYS do
  redis.call('ZREM', KEYS[j], member)
end
return 1
"""

# KEYS: leases keys; ARGV: lease ttl ms, then the member held in each key.
RENEW = _CLOCK + """
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 1
"""
