"""The breaker board in Redis, shared by every process (the rules are in store.py).

One hash per target holds its counters; two sorted sets list what processes
need to know on the hot path: targets whose breaker is open (score: when it
may be probed) and targets cooling down after a 429 (score: until when). A
process reads both sets in one round trip per refresh, never per request.
Each script mirrors its Python twin in store.py so both modes behave alike.
"""
from __future__ import annotations

OPEN = "sy:br:open"
COOL = "sy:br:cool"
STATE = "sy:br:t:"
STATE_TTL_S = 86400  # a target nobody used for a day starts from a clean slate
STALE_OPEN_S = 86400  # an open entry unprobed for a day belongs to a deleted target

RECORD = """
local now = tonumber(ARGV[1])
local s = redis.call('HMGET', KEYS[1], 'c', 'ws', 'wr', 'wf', 'ou', 'ej', 'ca')
local ou = tonumber(s[5]) or 0
if ou > 0 then return string.format('%.6f', ou) end
local c = tonumber(s[1]) or 0
if ARGV[5] == '1' then c = tonumber(ARGV[4]) else c = c + tonumber(ARGV[4]) end
local ws, wr, wf = tonumber(s[2]) or 0, tonumber(s[3]) or 0, tonumber(s[4]) or 0
if now - ws >= tonumber(ARGV[10]) then ws, wr, wf = now, 0, 0 end
wr = wr + tonumber(ARGV[2]) + tonumber(ARGV[3])
wf = wf + tonumber(ARGV[3])
local f, rate, minreq = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local trip = (f > 0 and c >= f) or (rate > 0 and wr >= minreq and wf >= rate * wr)
if not trip then
  redis.call('HSET', KEYS[1], 'c', c, 'ws', ws, 'wr', wr, 'wf', wf)
  redis.call('EXPIRE', KEYS[1], ARGV[13])
  return '0'
end
local ej, maxcool = tonumber(s[6]) or 0, tonumber(ARGV[12])
if now - (tonumber(s[7]) or 0) > maxcool then ej = 0 end
ej = ej + 1
ou = now + math.min(tonumber(ARGV[11]) * ej, maxcool)
redis.call('HSET', KEYS[1], 'c', 0, 'ws', now, 'wr', 0, 'wf', 0, 'ou', ou, 'ej', ej, 'pu', 0)
redis.call('EXPIRE', KEYS[1], ARGV[13])
redis.call('ZADD', KEYS[2], ou, ARGV[6])
return string.format('%.6f', ou)
"""

CLAIM = """
local s = redis.call('HMGET', KEYS[1], 'ou', 'pu')
local ou = tonumber(s[1]) or 0
if ou == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 2
end
local now = tonumber(ARGV[1])
if now < ou or (tonumber(s[2]) or 0) > now then return 0 end
redis.call('HSET', KEYS[1], 'pu', now + tonumber(ARGV[2]))
return 1
"""

PROBE_DONE = """
local now = tonumber(ARGV[1])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'c', 0, 'ws', now, 'wr', 0, 'wf', 0, 'ou', 0, 'pu', 0, 'ca', now)
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return '0'
end
local ej = (tonumber(redis.call('HGET', KEYS[1], 'ej')) or 0) + 1
local ou = now + math.min(tonumber(ARGV[4]) * ej, tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'c', 0, 'ws', now, 'wr', 0, 'wf', 0, 'ou', ou, 'ej', ej, 'pu', 0)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ou, ARGV[3])
return string.format('%.6f', ou)
"""


class RedisStore:
    shared = True

    def __init__(self, redis):
        self.redis = redis
        self._record = redis.register_script(RECORD)
        self._claim = redis.register_script(CLAIM)
        self._probe_done = redis.register_script(PROBE_DONE)

    async def sync(self, batches, cools, now: float):
        """Write pending outcomes and cooldowns, read the shared view: one round trip.

        batches: [(target id, Batch, BreakerSettings)]; cools: {target id: until}.
        Returns ({target id: open_until} from the batches, open view, cool view).
        """
        pipe = self.redis.pipeline(transaction=False)
        for target_id, batch, s in batches:
            args = [now, batch.ok, batch.failed, batch.trailing, int(batch.had_success), target_id, s.failures,
                    s.error_rate, s.min_requests, s.window_s, s.cooldown_s, s.max_cooldown_s, STATE_TTL_S]
            await self._record(keys=[STATE + str(target_id), OPEN], args=args, client=pipe)
        for target_id, until in cools.items():
            pipe.zadd(COOL, {target_id: until}, gt=True)
        pipe.zremrangebyscore(COOL, "-inf", now)
        pipe.zremrangebyscore(OPEN, "-inf", now - STALE_OPEN_S)
        pipe.zrange(OPEN, 0, -1, withscores=True)
        pipe.zrange(COOL, 0, -1, withscores=True)
        results = await pipe.execute()
        opened = {tid: float(r) for (tid, _b, _s), r in zip(batches, results, strict=False) if float(r)}
        return opened, _view(results[-2]), _view(results[-1])

    async def claim(self, target_id: int, now: float, ttl: float) -> int:
        return int(await self._claim(keys=[STATE + str(target_id), OPEN], args=[now, ttl, target_id]))

    async def probe_done(self, target_id: int, ok: bool, settings, now: float) -> float:
        args = [now, int(ok), target_id, settings.cooldown_s, settings.max_cooldown_s, STATE_TTL_S]
        return float(await self._probe_done(keys=[STATE + str(target_id), OPEN], args=args))

    async def release(self, target_id: int) -> None:
        await self.redis.hset(STATE + str(target_id), "pu", 0)


def _view(pairs) -> dict[int, float]:
    return {int(member): float(score) for member, score in pairs}
