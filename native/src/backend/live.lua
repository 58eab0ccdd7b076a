-- promsd live script, protocol v2 (docs/REDIS-PROTOCOL.md §8). Returns the server time and the
-- ids of the live processes (heartbeat expiry later than now); the reader pipelines the HGETALLs.
-- KEYS: 1 procs.  Returns { server time ms, id1, id2, ... }.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = { now }
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  out[#out + 1] = id
end
return out
