-- promsd apply script, protocol v1 (docs/REDIS-PROTOCOL.md). One call applies one batch of one
-- process atomically; a retried batch changes nothing (cumulative values, last_applied per field).
-- KEYS: 1 epoch, 2 totals, 3 meta, 4 procs, 5 applied:<id>, 6 gauges:<id>
-- ARGV: 1 id, 2 known epoch ('' = none), 3 candidate epoch, 4 mode ('n' | 's'), 5 live ms,
--       6 retain ms, 7 info JSON, 8 #counter items, 9 #gauge items, 10 #gauge deletes,
--       11 #meta items, then the items (see the protocol document).
-- Returns { status, epoch, server time ms }; status 'ok' | 'epoch' | 'lost'.
local id, known, mode = ARGV[1], ARGV[2], ARGV[4]
local live_ms, retain_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local nc, ng, nd, nm = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[1], epoch)
end
if known ~= '' and known ~= epoch then
  return { 'epoch', epoch, now }
end
if known ~= '' and mode ~= 's' and redis.call('HEXISTS', KEYS[5], '@') == 0 then
  return { 'lost', epoch, now }
end

local i = 12
if mode == 's' then
  for _ = 1, nc do
    local f, cum = ARGV[i], ARGV[i + 1]
    local d = tonumber(cum) - tonumber(ARGV[i + 2])
    if d ~= 0 and d == d and d > -math.huge and d < math.huge then
      redis.pcall('HINCRBYFLOAT', KEYS[2], f, string.format('%.17g', d))
    end
    redis.call('HSET', KEYS[5], f, cum)
    i = i + 3
  end
else
  for _ = 1, nc do
    local f, cum = ARGV[i], ARGV[i + 1]
    local d = tonumber(cum) - tonumber(redis.call('HGET', KEYS[5], f) or '0')
    if d ~= 0 and d == d and d > -math.huge and d < math.huge then
      redis.pcall('HINCRBYFLOAT', KEYS[2], f, string.format('%.17g', d))
    end
    redis.call('HSET', KEYS[5], f, cum)
    i = i + 2
  end
end
-- Protocol v2: only gauges whose metadata says `last` (or has none yet) carry the server time,
-- which the reader needs to pick the latest; the others store the bare value (v1 readers too
-- read it: a missing stamp is 0). Metadata of this batch is read from its items.
local batch_meta, stamped = {}, {}
for k = i + ng * 2 + nd, i + ng * 2 + nd + nm * 2 - 1, 2 do
  batch_meta[ARGV[k]] = ARGV[k + 1]
end
local function stamp(f)
  local name = string.match(f, '^[^|]*')
  local s = stamped[name]
  if s == nil then
    local m = batch_meta[name] or redis.call('HGET', KEYS[3], name)
    local ok, d = pcall(cjson.decode, m or '')
    s = not (ok and type(d) == 'table' and type(d.aggregator) == 'string' and d.aggregator ~= 'last')
    stamped[name] = s
  end
  return s
end
for _ = 1, ng do
  if stamp(ARGV[i]) then
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1] .. ' ' .. now)
  else
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  end
  i = i + 2
end
for _ = 1, nd do
  redis.call('HDEL', KEYS[6], ARGV[i])
  i = i + 1
end
for _ = 1, nm do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[6], '@', ARGV[7])
redis.call('HSET', KEYS[5], '@', epoch)
redis.call('PEXPIRE', KEYS[6], live_ms)
redis.call('PEXPIRE', KEYS[5], retain_ms)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('ZADD', KEYS[4], now + live_ms, id)
return { 'ok', epoch, now }
