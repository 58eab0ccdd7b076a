-- promsd apply script, protocol v1 (docs/REDIS-PROTOCOL.md). One call applies one batch of one
-- process atomically; a retried batch changes nothing (cumulative values, last_applied per field).
-- KEYS: 1 epoch, 2 totals, 3 meta, 4 procs, 5 applied:<id>, 6 gauges:<id>
-- ARGV: 1 id, 2 known epoch ('' = none), 3 candidate epoch, 4 mode ('n' | 's'), 5 live ms,
--       6 retain ms, 7 info JSON, 8 #counter items, 9 #gauge items, 10 #gauge deletes,
--       11 #meta items, then the items (see the protocol document).
-- Returns { status, epoch, server time ms, refused }; status 'ok' | 'epoch' | 'lost'; refused is
-- { name, key, stored JSON, ... } for the metadata items whose definition differs from the one
-- a live process holds (§5): none of their items were applied.
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
  return { 'epoch', epoch, now, {} }
end
-- Our gauges' hash gone means readers saw us dead (no flush for liveMs): what we sent and the
-- definitions we held are forgotten, so we must resend them, as after a lost bookkeeping.
if known ~= '' and mode ~= 's' and
    (redis.call('HEXISTS', KEYS[5], '@') == 0 or redis.call('EXISTS', KEYS[6]) == 0) then
  return { 'lost', epoch, now, {} }
end

-- Definitions (§5): the keys whose difference would merge series wrongly. A difference is
-- refused while a live process holds the stored definition; otherwise the new one replaces it.
local base = string.sub(KEYS[3], 1, -5)
local owned = base .. 'm:' .. id
local function decode(s)
  local ok, v = pcall(cjson.decode, s or '')
  if ok and type(v) == 'table' then return v end
  return nil
end
local function list(v)
  if type(v) == 'table' then return v end
  return {}
end
local function differs(a, b)
  if a.type ~= b.type then return 'type' end
  for _, k in ipairs({ 'labelNames', 'buckets', 'quantiles' }) do
    local x, y = list(a[k]), list(b[k])
    if #x ~= #y then return k end
    for j = 1, #x do
      if x[j] ~= y[j] then return k end
    end
  end
  return nil
end
local live = nil
local function held_by_another(name, stored)
  if live == nil then live = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. now, '+inf') end
  for _, other in ipairs(live) do
    if other ~= id then
      local theirs = decode(redis.call('HGET', base .. 'm:' .. other, name))
      if theirs ~= nil and differs(theirs, stored) == nil then return true end
    end
  end
  return false
end

-- A replaced definition takes the family's totals with it (and our own records of them): what
-- processes counted under the old one cannot be read under the new one. Rare (a deploy that
-- changed a definition, once its last holder is gone), so a scan of the hash is affordable.
local function forget(key, name)
  local cursor = '0'
  repeat
    local r = redis.call('HSCAN', key, cursor, 'MATCH', name .. '|*', 'COUNT', 1000)
    cursor = r[1]
    for j = 1, #r[2], 2 do
      redis.call('HDEL', key, r[2][j])
    end
  until cursor == '0'
end

local refused, out = {}, {}
local im = 12 + nc * (mode == 's' and 3 or 2) + ng * 2 + nd
for _ = 1, nm do
  local name, json = ARGV[im], ARGV[im + 1]
  local stored_json = redis.call('HGET', KEYS[3], name)
  local stored, mine = decode(stored_json), decode(json)
  local key = stored and mine and differs(mine, stored)
  if key and held_by_another(name, stored) then
    refused[name] = true
    out[#out + 1] = name
    out[#out + 1] = key
    out[#out + 1] = stored_json
  else
    if key then
      forget(KEYS[2], name)
      forget(KEYS[5], name)
    end
    redis.call('HSET', KEYS[3], name, json)
    redis.call('HSET', owned, name, json)
  end
  im = im + 2
end
local check = next(refused) ~= nil
local function ours(f)
  return not check or not refused[string.match(f, '^[^|]*')]
end

-- A series that has only ever been zero exists at 0 (`inc(0)`, an untouched unlabelled counter,
-- `zero()`): its counter value or its sum is created at 0 when absent (field.rs `marks_series`).
local function marks(f)
  return string.find(f, '^[^|]*||') ~= nil or string.find(f, '^[^|]*|sum|') ~= nil
end

-- A counter item: its total gains `cum - last` (skipped when zero or not finite); this process's
-- bookkeeping records `cum`.
local function add(f, cum, last)
  local d = tonumber(cum) - tonumber(last)
  if d ~= 0 and d == d and d > -math.huge and d < math.huge then
    redis.pcall('HINCRBYFLOAT', KEYS[2], f, string.format('%.17g', d))
  elseif d == 0 and tonumber(cum) == 0 and marks(f) then
    redis.call('HSETNX', KEYS[2], f, '0')
  end
  redis.call('HSET', KEYS[5], f, cum)
end

-- Mode `s` items carry the last value the process saw acknowledged; the others are read here.
local seeded = mode == 's'
local i = 12
for _ = 1, nc do
  local f, cum = ARGV[i], ARGV[i + 1]
  if ours(f) then
    local last
    if seeded then
      last = ARGV[i + 2]
    else
      last = redis.call('HGET', KEYS[5], f) or '0'
    end
    add(f, cum, last)
  end
  i = i + (seeded and 3 or 2)
end
-- Protocol v2: only gauges whose metadata says `last` (or has none) carry the server time, which
-- the reader needs to pick the latest; the others store the bare value (v1 readers read it too:
-- a missing stamp is 0). The metadata is this batch's by now (applied above).
local stamped = {}
local function stamp(f)
  local name = string.match(f, '^[^|]*')
  local s = stamped[name]
  if s == nil then
    local d = decode(redis.call('HGET', KEYS[3], name))
    s = not (d and type(d.aggregator) == 'string' and d.aggregator ~= 'last')
    stamped[name] = s
  end
  return s
end
for _ = 1, ng do
  if ours(ARGV[i]) then
    if stamp(ARGV[i]) then
      redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1] .. ' ' .. now)
    else
      redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
    end
  end
  i = i + 2
end
for _ = 1, nd do
  redis.call('HDEL', KEYS[6], ARGV[i])
  i = i + 1
end
redis.call('HSET', KEYS[6], '@', ARGV[7])
redis.call('HSET', KEYS[5], '@', epoch)
redis.call('PEXPIRE', KEYS[6], live_ms)
redis.call('PEXPIRE', KEYS[5], retain_ms)
redis.call('PEXPIRE', owned, live_ms)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('ZADD', KEYS[4], now + live_ms, id)
return { 'ok', epoch, now, out }
