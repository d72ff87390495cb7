import { MARKET_SUMS } from "./redis-market-sums";

/**
 * Lua for the Redis directory: every read-check-write runs as one script, so two nodes can never
 * both take a provider's last unit of capacity or resurrect a removed entry, and a pairing or a
 * session's end is one round trip. KEYS[1] routes the script (a key of the space it works in),
 * KEYS[2] is that space's key prefix `P`; every key a script touches starts with `P`, so under
 * Redis Cluster (where `P` carries a hash tag) each script stays within one slot.
 *
 * The matchmaking index (same order as matchmaking.ts, shared by every node): per model, a sorted
 * set `q:<model>` of providers with capacity left and no recent failure, and `f:<model>` of those
 * with one; all scores 0, so members sort by their text, which is fixed-width digits spelling the
 * order: completion cost, prompt cost (20 digits each, exact bigints), utilisation (10), turn (16),
 * registration (16), then the identity key; `f:` members lead with the failure count (10).
 * `a:<model>` lists every provider of the model by price alone, busy or not, so a refusal says
 * why (no such model, price too low, all busy) from its front instead of reading every provider.
 * Each script that changes a provider re-lists it; the members it holds are kept in its `ix` field.
 * `fx` holds failure times, so a pick can lift penalties that aged out.
 */
export const INDEX = `
local P = KEYS[2]
${MARKET_SUMS}
local function unlist(h)
  local ix = redis.call('HGET', h, 'ix')
  if ix then
    for z, m in string.gmatch(ix, '([^\\t\\n]+)\\t([^\\n]+)') do redis.call('ZREM', z, m) end
  end
end
local function reindex(h, id)
  unlist(h)
  tally(h, id)
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
local function owned(h, socket) return redis.call('HGET', h, 'socketId') == socket end
-- Removes an entry and every listing of it (not the providers set: a re-registration keeps it).
local function forget(h, id)
  unlist(h)
  local f = redis.call('HMGET', h, 'models', 'node')
  for m in string.gmatch(f[1] or '', '%S+') do
    redis.call('SREM', P .. 'm:' .. m, id)
    local k = redis.call('HGET', h, 'k:' .. m)
    if k then redis.call('ZREM', P .. 'a:' .. m, k .. id) end
  end
  if f[2] then redis.call('SREM', P .. 'n:' .. f[2] .. ':p', id) end
  redis.call('ZREM', P .. 'fx', id)
  redis.call('DEL', h)
  tally(h, id)
end
-- Walks one sorted set in order, calling visit(member, id) on members whose entry still holds
-- them (holds(member, id)) and whose id is not in skip: visit returns a value to stop with, false
-- to go on, or nil to stop with nothing. Members left by an expired or replaced entry are dropped.
local function walk(z, off, holds, visit, skip)
  local start = 0
  while true do
    local batch = redis.call('ZRANGEBYLEX', z, '-', '+', 'LIMIT', start, 16)
    if #batch == 0 then return nil end
    local dropped = 0
    for _, member in ipairs(batch) do
      local id = string.sub(member, off)
      if holds(member, id) then
        if not skip[id] then
          local r = visit(member, id)
          if r ~= false then return r end
        end
      else
        redis.call('ZREM', z, member)
        dropped = dropped + 1
      end
    end
    start = start + #batch - dropped
  end
end
local function listed(member, id)
  local ix = redis.call('HGET', P .. 'p:' .. id, 'ix')
  return ix and string.find(ix, member, 1, true) ~= nil
end
-- Records a session holding a unit of h's capacity already taken: the s:<sid> hash (with the
-- entry's heartbeat count 'hb', read by CLOSE), the count, and the session in each party's node set.
local function open_session(h, id, sid, model, rsocket, rnode, now, ttl)
  local f = redis.call('HMGET', h, 'socketId', 'node', 'hb')
  local s = P .. 's:' .. sid
  redis.call('HSET', s, 'identityKey', id, 'providerSocketId', f[1], 'requesterSocketId', rsocket, 'model', model, 'createdAt', now, 'hb', f[3] or '0')
  if rnode ~= '' then
    redis.call('HSET', s, 'requesterNode', rnode)
    redis.call('SADD', P .. 'n:' .. rnode .. ':s', sid)
  end
  if f[2] then
    redis.call('HSET', s, 'providerNode', f[2])
    if f[2] ~= rnode then redis.call('SADD', P .. 'n:' .. f[2] .. ':s', sid) end
  end
  redis.call('PEXPIRE', s, ttl)
  redis.call('ZADD', P .. 'sessions', now, sid)
end
-- Gives back the units a node holds leased from a provider (redis-lease-scripts.ts).
local function release(node, id)
  local h = P .. 'p:' .. id
  redis.call('SREM', P .. 'n:' .. node .. ':l', id)
  redis.call('ZREM', P .. 'lx', node .. ' ' .. id)
  local n = tonumber(redis.call('HGET', h, 'l:' .. node))
  if not n then return end
  redis.call('HDEL', h, 'l:' .. node)
  redis.call('HSET', h, 'active', math.max(0, (tonumber(redis.call('HGET', h, 'active')) or 0) - n))
  reindex(h, id)
end
`;

/** KEYS[1] the entry. ARGV: ttl, this space's models (space-separated), identityKey, node, then field/value pairs. */
export const REGISTER = `${INDEX}
local h, id = KEYS[1], ARGV[3]
forget(h, id)
redis.call('HSET', h, unpack(ARGV, 5))
redis.call('HSET', h, 'rseq', redis.call('INCR', P .. 'seq'))
redis.call('PEXPIRE', h, ARGV[1])
redis.call('SADD', P .. 'providers', id)
if ARGV[4] ~= '' then redis.call('SADD', P .. 'n:' .. ARGV[4] .. ':p', id) end
for m in string.gmatch(ARGV[2], '%S+') do
  redis.call('SADD', P .. 'm:' .. m, id)
  redis.call('ZADD', P .. 'a:' .. m, 0, redis.call('HGET', h, 'k:' .. m) .. id)
end
reindex(h, id)
mark(h, id, ARGV[1])
return 1`;

/** KEYS[1] the entry. ARGV: identityKey. Whoever owns it: for a re-registration that left this space. */
export const FORGET = `${INDEX}
forget(KEYS[1], ARGV[1])
redis.call('SREM', P .. 'providers', ARGV[1])
return 1`;

/** KEYS[1] the entry. ARGV: socketId, identityKey. */
export const UNREGISTER = `${INDEX}
if not owned(KEYS[1], ARGV[1]) then return 0 end
forget(KEYS[1], ARGV[2])
redis.call('SREM', P .. 'providers', ARGV[2])
return 1`;

/**
 * KEYS[1] the entry. ARGV: socketId, load, now, ttl, identityKey. Counts heartbeats in 'hb' (see
 * CLOSE). A load that leaves no room for the units nodes hold leased (redis-lease-scripts.ts:
 * load plus leased units over the capacity) gives every lease on the entry back, so no node's
 * pool grants a place the provider says it does not have. Returns 0 (not the owner), 1, or 2
 * (leases given back: the caller forgets its own pool's units of the provider at once; other
 * nodes learn it from their next RENEW).
 */
export const HEARTBEAT = `${INDEX}
if not owned(KEYS[1], ARGV[1]) then return 0 end
local h, load = KEYS[1], tonumber(ARGV[2])
local before = redis.call('HGET', h, 'load')
redis.call('HSET', h, 'load', ARGV[2], 'seenAt', ARGV[3])
redis.call('HINCRBY', h, 'hb', 1)
redis.call('PEXPIRE', h, ARGV[4])
local gave = 0
if (tonumber(before) or 0) ~= load then
  local leased, nodes = 0, {}
  local f = redis.call('HGETALL', h)
  for i = 1, #f, 2 do
    if string.sub(f[i], 1, 2) == 'l:' then
      leased = leased + (tonumber(f[i + 1]) or 0)
      nodes[#nodes + 1] = string.sub(f[i], 3)
    end
  end
  if leased > 0 and load + leased > (tonumber(redis.call('HGET', h, 'capacity')) or 0) then
    for _, node in ipairs(nodes) do release(node, ARGV[5]) end
    gave = 1
  end
  reindex(h, ARGV[5])
end
mark(h, ARGV[5], ARGV[4])
return 1 + gave`;

/** KEYS[1] the entry. ARGV: socketId, now, identityKey. */
export const FAILURE = `${INDEX}
if not owned(KEYS[1], ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'lastFailureAt', ARGV[2], 'pen', '1')
redis.call('ZADD', P .. 'fx', ARGV[2], ARGV[3])
reindex(KEYS[1], ARGV[3])
return 1`;

/**
 * A pairing in one round trip: picks the best fitting provider, takes one unit of its capacity
 * and writes the session record (`s:<sessionId>` hash, the `sessions` count, and the session in
 * each party's node set `n:<node>:s`). KEYS[1] `P fx`. ARGV: model, now, failureWindowMs, max
 * completion cost, max prompt cost (20 digits each), sessionId, requester socket, requester node,
 * session ttl, then identity keys to skip. Returns `{1, provider hash as a flat list}`, or, when
 * nobody fits, `{0, code, cheapest completion cost}` read from the front of `a:<model>`.
 */
export const PAIR = `${INDEX}
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
for i = 10, #ARGV do skip[ARGV[i]] = true end
local function fits(off, stopPastPrice)
  return function(member, id)
    if string.sub(member, off + 1, off + 20) > ARGV[4] then
      if stopPastPrice then return nil end
      return false
    end
    if string.sub(member, off + 21, off + 40) <= ARGV[5] then return id end
    return false
  end
end
local id = walk(P .. 'q:' .. model, 83, listed, fits(0, true), skip)
  or walk(P .. 'f:' .. model, 93, listed, fits(10, false), skip)
if not id then
  -- Nobody with room fits: the cheapest provider of the model (busy or not) says why.
  local cheapest
  local busy = walk(P .. 'a:' .. model, 41, function(member, pid)
    return redis.call('HGET', P .. 'p:' .. pid, 'k:' .. model) == string.sub(member, 1, 40)
  end, function(member)
    local completion = string.sub(member, 1, 20)
    cheapest = cheapest or completion
    if completion > ARGV[4] then return nil end
    if string.sub(member, 21, 40) <= ARGV[5] then return 'ALL_BUSY' end
    return false
  end, skip)
  if busy then return {0, busy} end
  if cheapest then return {0, 'PRICE_TOO_LOW', cheapest} end
  return {0, 'NO_MODEL'}
end
local h = P .. 'p:' .. id
redis.call('HINCRBY', h, 'active', 1)
redis.call('HSET', h, 'lastAssignedAt', ARGV[2], 'aseq', redis.call('INCR', P .. 'seq'))
reindex(h, id)
open_session(h, id, ARGV[6], model, ARGV[7], ARGV[8], ARGV[2], ARGV[9])
return {1, redis.call('HGETALL', h)}`;

/**
 * Ends a session in one round trip: removes its record (exactly one caller gets it), its place in
 * the count and in each party's node set, and gives its unit of capacity back (if the entry still
 * belongs to the socket that took it), counting it out of the provider's reported load when a
 * heartbeat came since it opened (`endedLoad` in directory.ts). KEYS[1] the session hash. ARGV:
 * sessionId. Returns the record as a flat list, or nil.
 */
export const CLOSE = `${INDEX}
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return nil end
redis.call('DEL', KEYS[1])
redis.call('ZREM', P .. 'sessions', ARGV[1])
local r = {}
for i = 1, #f, 2 do r[f[i]] = f[i + 1] end
if r.requesterNode then redis.call('SREM', P .. 'n:' .. r.requesterNode .. ':s', ARGV[1]) end
if r.providerNode then redis.call('SREM', P .. 'n:' .. r.providerNode .. ':s', ARGV[1]) end
local h = P .. 'p:' .. (r.identityKey or '')
if r.identityKey and owned(h, r.providerSocketId) and (tonumber(redis.call('HGET', h, 'active')) or 0) > 0 then
  redis.call('HINCRBY', h, 'active', -1)
  -- endedLoad (directory.ts): a load heard since the session opened may count it.
  local e = redis.call('HMGET', h, 'hb', 'load')
  local load = tonumber(e[2]) or 0
  if (tonumber(e[1]) or 0) > (tonumber(r.hb) or 0) and load > 0 then redis.call('HSET', h, 'load', load - 1) end
  reindex(h, r.identityKey)
end
return f`;

/**
 * Forgets a dead node within one space: its providers (those whose entry it still holds) and its
 * sessions' ids, for the caller to end. KEYS[1] `P n:<node>:p`. ARGV: node. Returns
 * `{identity keys dropped, session ids}`.
 */
export const DROP_NODE = `${INDEX}
local node = ARGV[1]
local dropped = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = P .. 'p:' .. id
  if redis.call('HGET', h, 'node') == node then
    forget(h, id)
    redis.call('SREM', P .. 'providers', id)
    dropped[#dropped + 1] = id
  end
end
redis.call('DEL', KEYS[1])
for _, id in ipairs(redis.call('SMEMBERS', P .. 'n:' .. node .. ':l')) do release(node, id) end
redis.call('DEL', P .. 'n:' .. node .. ':l')
local sset = P .. 'n:' .. node .. ':s'
local sessions = redis.call('SMEMBERS', sset)
redis.call('DEL', sset)
return {dropped, sessions}`;
