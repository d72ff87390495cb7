import { INDEX } from "./redis-scripts";

/**
 * Capacity leases (see redis-lease.ts): a node takes units of providers' capacity ahead of
 * demand, so a pairing reserves from its own pool with no Redis round trip before the grant, and
 * turns the unit into a session record right after (`CLAIM`, one command, which also tops the
 * pool up). A leased unit counts in the provider's `active` like a session's, so no other node can
 * take it; the entry's `l:<node>` field counts the units a node holds, and `n:<node>:l` lists the
 * providers it holds any of, so a dead node's leases are given back with the rest of its state
 * (`DROP_NODE`). A node leases at most one unit per provider, and never a provider's last free
 * unit, so leases never make a provider look full to other nodes. Each lease also expires: `lx`
 * (sorted by expiry, members `<node> <identityKey>`) is pushed back while the node holds the unit
 * (its claims, top-ups and `RENEW` name what its pool holds), and `RENEW`, sent by every leasing
 * node each tick, gives back any lease whose expiry passed, so a lost `RELEASE` frees the units.
 */
const LEASE_FN = `${INDEX}
local function renew(node, at, skip)
  for id in pairs(skip) do redis.call('ZADD', P .. 'lx', 'XX', at, node .. ' ' .. id) end
end
local function lease(model, now, node, want, skip, ttl)
  local out = {}
  if want <= 0 then return out end
  local seen = 0
  now = tonumber(now)
  walk(P .. 'q:' .. model, 83, listed, function(member, id)
    seen = seen + 1
    local h = P .. 'p:' .. id
    local f = redis.call('HMGET', h, 'capacity', 'active', 'load', 'l:' .. node)
    local free = (tonumber(f[1]) or 0) - math.max(tonumber(f[2]) or 0, tonumber(f[3]) or 0)
    if free >= 2 and not f[4] then
      skip[id] = true
      redis.call('HINCRBY', h, 'active', 1)
      redis.call('HSET', h, 'l:' .. node, 1, 'lastAssignedAt', now, 'aseq', redis.call('INCR', P .. 'seq'))
      reindex(h, id)
      redis.call('SADD', P .. 'n:' .. node .. ':l', id)
      redis.call('ZADD', P .. 'lx', now + ttl, node .. ' ' .. id)
      out[#out + 1] = redis.call('HGETALL', h)
      if #out >= want then return true end
    end
    -- A bounded look: a node already holding the front of the list stops here.
    if seen >= 4 * want + 16 then return nil end
    return false
  end, skip)
  return out
end
`;

/**
 * Leases up to `want` units of the model's best providers to a node. KEYS[1] `P fx` (routes),
 * KEYS[2] `P`. ARGV: model, now, node, want, lease ttl, then identity keys to skip (already in its
 * pool, whose leases are renewed). Returns the leased providers' hashes as flat lists.
 */
export const LEASE = `${LEASE_FN}
local skip = {}
for i = 6, #ARGV do skip[ARGV[i]] = true end
renew(ARGV[3], tonumber(ARGV[2]) + tonumber(ARGV[5]), skip)
return lease(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), skip, tonumber(ARGV[5]))`;

/**
 * A pairing made from a node's pool, recorded: one unit of the node's lease on the provider
 * becomes the session (or, the lease being gone, a free unit is taken directly: the entry was
 * re-registered, or the node's leases were given back as a dead node's), and the pool is topped
 * up. KEYS[1] the provider's entry, KEYS[2] `P`. ARGV: node, provider socket, identityKey,
 * sessionId, model, requester socket, requester node, now, session ttl, want, lease ttl, then
 * identity keys to skip (the rest of its pool, whose leases are renewed). Returns `{1 or 0 (no
 * unit: the provider left or is full), leased hashes}`.
 */
export const CLAIM = `${LEASE_FN}
local h, node, id = KEYS[1], ARGV[1], ARGV[3]
local ok = 0
if owned(h, ARGV[2]) then
  local n = tonumber(redis.call('HGET', h, 'l:' .. node))
  if n and n > 1 then
    redis.call('HSET', h, 'l:' .. node, n - 1)
    ok = 1
  elseif n then
    redis.call('HDEL', h, 'l:' .. node)
    redis.call('SREM', P .. 'n:' .. node .. ':l', id)
    redis.call('ZREM', P .. 'lx', node .. ' ' .. id)
    ok = 1
  else
    local f = redis.call('HMGET', h, 'capacity', 'active', 'load')
    if math.max(tonumber(f[2]) or 0, tonumber(f[3]) or 0) < (tonumber(f[1]) or 0) then
      redis.call('HINCRBY', h, 'active', 1)
      reindex(h, id)
      ok = 1
    end
  end
end
if ok == 1 then open_session(h, id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]) end
local skip = {}
for i = 12, #ARGV do skip[ARGV[i]] = true end
renew(node, tonumber(ARGV[8]) + tonumber(ARGV[11]), skip)
return {ok, lease(ARGV[5], ARGV[8], node, tonumber(ARGV[10]), skip, tonumber(ARGV[11]))}`;

/**
 * Gives back a node's leased units. KEYS[1] `P n:<node>:l`, KEYS[2] `P`. ARGV: node, then
 * identity keys (none: every provider it holds units of). Returns how many providers it named.
 */
export const RELEASE = `${INDEX}
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then ids = redis.call('SMEMBERS', KEYS[1]) end
for _, id in ipairs(ids) do release(ARGV[1], id) end
return #ids`;

/**
 * A leasing node's tick: pushes back the expiry of the units it still holds, then gives back
 * every lease in the space whose expiry passed (whichever node's: one that lost a `RELEASE`, or
 * stalled past its renewals; a dead node's go sooner, with `DROP_NODE`). KEYS[1] `P lx`, KEYS[2]
 * `P`. ARGV: node, now, lease ttl, then the identity keys it holds. Returns `{how many it gave
 * back, the identity keys named whose lease is gone}` (Redis restarted empty, the entry was
 * registered again, or the lease expired).
 */
export const RENEW = `${INDEX}
local node, now = ARGV[1], tonumber(ARGV[2])
local at = now + tonumber(ARGV[3])
local gone = {}
for i = 4, #ARGV do
  if redis.call('HEXISTS', P .. 'p:' .. ARGV[i], 'l:' .. node) == 0 then gone[#gone + 1] = ARGV[i] end
  redis.call('ZADD', KEYS[1], 'XX', at, node .. ' ' .. ARGV[i])
end
local swept = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 256)) do
  local sp = string.find(m, ' ', 1, true)
  if sp then release(string.sub(m, 1, sp - 1), string.sub(m, sp + 1)) end
  redis.call('ZREM', KEYS[1], m)
  swept = swept + 1
end
return {swept, gone}`;
