/**
 * The market view's sums, kept in Redis as entries change instead of summed from every entry on
 * each read (a read of 10,000 entries once held Redis for ~84 ms, every pairing queued behind it).
 * In a space `P`:
 * - `ms` hash: group id → `<providers> <capacity> <in use>`; a group is the providers with the
 *   same `listings` field, its id 16 hex digits of that text's SHA-1; `ml` hash: group id → the
 *   `listings` text.
 * - `mx` hash: identity key → `<group id> <capacity> <in use>`, what the entry last added to
 *   `ms` (in use capped at capacity). It outlives the entry, so an entry that expired by TTL (no
 *   script ran) can still be taken out.
 * - `mt` sorted set: identity key → when the entry expires (Redis time, ms), pushed back by each
 *   registration and heartbeat. Each market read takes out up to `SWEEP` entries whose time
 *   passed and whose entry is gone, so a dead entry leaves the sums at the first read after its TTL.
 * Every script that changes an entry's counters re-lists it (`reindex`), and `reindex` and `forget`
 * call `tally`, which swaps the entry's old contribution for its new one. An entry marked `mo`
 * (in a cluster, a provider's entries in spaces other than its first model's) adds nothing, so
 * summing every space's groups counts each provider once.
 */
export const MARKET_SUMS = `
local function group_add(c, sign)
  local gid, cap, used = string.match(c, '^(%S+) (%S+) (%S+)$')
  local cur = redis.call('HGET', P .. 'ms', gid)
  local n, tc, tu = 0, 0, 0
  if cur then
    local a, b, d = string.match(cur, '^(%S+) (%S+) (%S+)$')
    n, tc, tu = tonumber(a), tonumber(b), tonumber(d)
  end
  n = n + sign
  if n <= 0 then
    redis.call('HDEL', P .. 'ms', gid)
    redis.call('HDEL', P .. 'ml', gid)
  else
    redis.call('HSET', P .. 'ms', gid, string.format('%d %d %d', n, tc + sign * tonumber(cap), tu + sign * tonumber(used)))
  end
end
local function tally(h, id)
  local old = redis.call('HGET', P .. 'mx', id) or nil
  local f = redis.call('HMGET', h, 'capacity', 'active', 'load', 'socketId', 'mo')
  local new
  if f[4] and f[5] ~= '1' then
    local gid = old and string.match(old, '^(%S+)')
    if not gid then
      local listings = redis.call('HGET', h, 'listings')
      if listings then
        gid = string.sub(redis.sha1hex(listings), 1, 16)
        redis.call('HSETNX', P .. 'ml', gid, listings)
      end
    end
    if gid then
      local cap = tonumber(f[1]) or 0
      local used = math.min(math.max(tonumber(f[2]) or 0, tonumber(f[3]) or 0), cap)
      new = string.format('%s %d %d', gid, cap, used)
    end
  end
  if new == old then return end
  -- The new first: a group that keeps the provider never passes through empty (and loses its text).
  if new then
    group_add(new, 1)
    redis.call('HSET', P .. 'mx', id, new)
  else
    redis.call('HDEL', P .. 'mx', id)
    redis.call('ZREM', P .. 'mt', id)
  end
  if old then group_add(old, -1) end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Notes when the entry, just given ttl ms to live, expires (entries that add nothing are not
-- noted). Tallies it first: an entry written before the sums existed joins them at its heartbeat.
local function mark(h, id, ttl)
  tally(h, id)
  if redis.call('HEXISTS', P .. 'mx', id) == 1 then redis.call('ZADD', P .. 'mt', now_ms() + tonumber(ttl), id) end
end
`;

/** Entries whose expiry passed taken out of the sums per market read (more wait for the next). */
export const SWEEP = 256;

/**
 * The market view: the sums per group (O(groups), not O(providers)), after taking out up to
 * `SWEEP` entries that expired. KEYS[1] `P mt`, KEYS[2] `P`. Returns `{listings, providers,
 * capacity, in use}` per group; ids whose entry expired are pruned from `providers` too.
 */
export const MARKET = `
local P = KEYS[2]
${MARKET_SUMS}
local now = now_ms()
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ${SWEEP})) do
  local h = P .. 'p:' .. id
  local ttl = redis.call('PTTL', h)
  -- 0: the key's last millisecond, still there (Redis deletes it only once its time is past).
  if ttl >= 0 then
    redis.call('ZADD', KEYS[1], now + math.max(ttl, 1), id)
  else
    tally(h, id)
    redis.call('ZREM', KEYS[1], id)
    if ttl == -2 then redis.call('SREM', P .. 'providers', id) end
  end
end
local sums = redis.call('HGETALL', P .. 'ms')
local out = {}
for i = 1, #sums, 2 do
  local n, cap, used = string.match(sums[i + 1], '^(%S+) (%S+) (%S+)$')
  local listings = redis.call('HGET', P .. 'ml', sums[i])
  if listings then out[#out + 1] = {listings, tonumber(n), tonumber(cap), tonumber(used)} end
end
return out`;
