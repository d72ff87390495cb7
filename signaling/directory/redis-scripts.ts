/**
 * Lua for the Redis directory: every read-check-write on a provider entry runs as one script, so
 * two nodes can never both take a provider's last unit of capacity or resurrect a removed entry.
 * KEYS[1] is the provider hash (`p:<id>`), KEYS[2] the key prefix; `socketId` is the owner check.
 *
 * The matchmaking index (same order as matchmaking.ts, shared by every node): per model, a sorted
 * set `q:<model>` of providers with capacity left and no recent failure, and `f:<model>` of those
 * with one; all scores 0, so members sort by their text, which is fixed-width digits spelling the
 * order: completion cost, prompt cost (20 digits each, exact bigints), utilisation (10), turn (16),
 * registration (16), then the identity key; `f:` members lead with the failure count (10).
 * Each script that changes a provider re-lists it; the members it holds are kept in its `ix` field.
 * `fx` holds failure times, so a pick can lift penalties that aged out.
 */
const INDEX = `
local P = KEYS[2]
local function unlist(h)
  local ix = redis.call('HGET', h, 'ix')
  if ix then
    for z, m in string.gmatch(ix, '([^\\t\\n]+)\\t([^\\n]+)') do redis.call('ZREM', z, m) end
  end
end
local function reindex(h, id)
  unlist(h)
  local f = redis.call('HMGET', h, 'models', 'capacity', 'active', 'load', 'failures', 'pen', 'aseq', 'rseq')
  if not f[1] then return end
  local cap = tonumber(f[2]) or 0
  local used = math.max(tonumber(f[3]) or 0, tonumber(f[4]) or 0)
  if used >= cap then
    redis.call('HSET', h, 'ix', '')
    return
  end
  local tail = string.format('%010d%016d%016d', math.floor(used / cap * 1e9), tonumber(f[7]) or 0, tonumber(f[8]) or 0) .. id
  local lines = {}
  for m in string.gmatch(f[1], '%S+') do
    local z, member
    local price = redis.call('HGET', h, 'k:' .. m) or ''
    if f[6] == '1' then
      z = P .. 'f:' .. m
      member = string.format('%010d', tonumber(f[5]) or 0) .. price .. tail
    else
      z = P .. 'q:' .. m
      member = price .. tail
    end
    redis.call('ZADD', z, 0, member)
    lines[#lines + 1] = z .. '\\t' .. member
  end
  redis.call('HSET', h, 'ix', table.concat(lines, '\\n'))
end
local function owned(h) return redis.call('HGET', h, 'socketId') == ARGV[1] end
`;

/** ARGV: ttl, modelsText, identityKey, then field/value pairs. */
export const REGISTER = `${INDEX}
local old = redis.call('HGET', KEYS[1], 'models')
if old then
  unlist(KEYS[1])
  for m in string.gmatch(old, '%S+') do redis.call('SREM', P .. 'm:' .. m, ARGV[3]) end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('HSET', KEYS[1], 'rseq', redis.call('INCR', P .. 'seq'))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', P .. 'providers', ARGV[3])
for m in string.gmatch(ARGV[2], '%S+') do redis.call('SADD', P .. 'm:' .. m, ARGV[3]) end
reindex(KEYS[1], ARGV[3])
return 1`;

/** ARGV: socketId, identityKey. */
export const UNREGISTER = `${INDEX}
if not owned(KEYS[1]) then return 0 end
unlist(KEYS[1])
local models = redis.call('HGET', KEYS[1], 'models') or ''
for m in string.gmatch(models, '%S+') do redis.call('SREM', P .. 'm:' .. m, ARGV[2]) end
redis.call('SREM', P .. 'providers', ARGV[2])
redis.call('ZREM', P .. 'fx', ARGV[2])
redis.call('DEL', KEYS[1])
return 1`;

/** ARGV: socketId, load, now, ttl, identityKey. */
export const HEARTBEAT = `${INDEX}
if not owned(KEYS[1]) then return 0 end
local before = redis.call('HGET', KEYS[1], 'load')
redis.call('HSET', KEYS[1], 'load', ARGV[2], 'seenAt', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if (tonumber(before) or 0) ~= tonumber(ARGV[2]) then reindex(KEYS[1], ARGV[5]) end
return 1`;

/** Takes one unit from provider hash h (capacity already checked): a new turn, re-listed. */
const TAKE = `
local function take(h, id, now)
  redis.call('HINCRBY', h, 'active', 1)
  redis.call('HSET', h, 'lastAssignedAt', now, 'aseq', redis.call('INCR', P .. 'seq'))
  reindex(h, id)
end
`;

/** ARGV: socketId, now, identityKey. */
export const RESERVE = `${INDEX}${TAKE}
if not owned(KEYS[1]) then return 0 end
local f = redis.call('HMGET', KEYS[1], 'active', 'load', 'capacity')
if math.max(tonumber(f[1]) or 0, tonumber(f[2]) or 0) >= (tonumber(f[3]) or 0) then return 0 end
take(KEYS[1], ARGV[3], ARGV[2])
return 1`;

/** ARGV: socketId, identityKey. */
export const RELEASE = `${INDEX}
if not owned(KEYS[1]) then return 0 end
if (tonumber(redis.call('HGET', KEYS[1], 'active')) or 0) > 0 then
  redis.call('HINCRBY', KEYS[1], 'active', -1)
  reindex(KEYS[1], ARGV[2])
end
return 1`;

/** ARGV: socketId, now, identityKey. */
export const FAILURE = `${INDEX}
if not owned(KEYS[1]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'lastFailureAt', ARGV[2], 'pen', '1')
redis.call('ZADD', P .. 'fx', ARGV[2], ARGV[3])
reindex(KEYS[1], ARGV[3])
return 1`;

/**
 * Picks and reserves in one step. KEYS[1] unused (any provider key), KEYS[2] prefix.
 * ARGV: model, now, failureWindowMs, max completion cost, max prompt cost (20 digits each),
 * then identity keys to skip. Returns the chosen provider's hash as a flat list, or nil.
 */
export const RESERVE_BEST = `${INDEX}${TAKE}
local model, now = ARGV[1], tonumber(ARGV[2])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'fx', '-inf', now - tonumber(ARGV[3]))) do
  redis.call('ZREM', P .. 'fx', id)
  local h = P .. 'p:' .. id
  if redis.call('HGET', h, 'pen') == '1' then
    redis.call('HSET', h, 'pen', '0')
    reindex(h, id)
  end
end
local skip = {}
for i = 6, #ARGV do skip[ARGV[i]] = true end
-- Walks one index in order; members left by an expired or replaced entry are dropped on the way.
local function walk(z, off, stopPastPrice)
  local start = 0
  while true do
    local batch = redis.call('ZRANGEBYLEX', z, '-', '+', 'LIMIT', start, 16)
    if #batch == 0 then return nil end
    local dropped = 0
    for _, member in ipairs(batch) do
      if string.sub(member, off + 1, off + 20) > ARGV[4] then
        if stopPastPrice then return nil end
      elseif string.sub(member, off + 21, off + 40) <= ARGV[5] then
        local id = string.sub(member, off + 83)
        if not skip[id] then
          local ix = redis.call('HGET', P .. 'p:' .. id, 'ix')
          if ix and string.find(ix, member, 1, true) then return id end
          redis.call('ZREM', z, member)
          dropped = dropped + 1
        end
      end
    end
    start = start + #batch - dropped
  end
end
local id = walk(P .. 'q:' .. model, 0, true) or walk(P .. 'f:' .. model, 10, false)
if not id then return nil end
local h = P .. 'p:' .. id
take(h, id, ARGV[2])
return redis.call('HGETALL', h)`;
