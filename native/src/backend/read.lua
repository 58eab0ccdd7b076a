-- promsd read script, protocol v1 (docs/REDIS-PROTOCOL.md). One call returns everything a reader
-- needs to render a prefix's aggregate: no KEYS command, one round trip.
-- KEYS: 1 meta, 2 totals, 3 procs.  ARGV: 1 gauge-key prefix ("promsd:{<prefix>}:g:").
-- Returns { server time ms, HGETALL meta, HGETALL totals, id1, HGETALL gauges:id1, id2, ... }
-- with one id/hash pair per live process (heartbeat expiry later than now).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = { now, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]) }
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. now, '+inf')) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. id)
end
return out
