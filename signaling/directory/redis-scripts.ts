/**
 * Lua for the Redis directory: every read-check-write on a provider entry runs as one script, so
 * two nodes can never both take a provider's last unit of capacity or resurrect a removed entry.
 * KEYS[1] is always the provider hash; `socketId` is the owner check.
 */

/** KEYS: hash, all-set, model prefix. ARGV: ttl, modelsText, then field/value pairs. */
export const REGISTER = `
local old = redis.call('HGET', KEYS[1], 'models')
if old then
  for m in string.gmatch(old, '%S+') do redis.call('SREM', KEYS[3] .. m, ARGV[3]) end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
for m in string.gmatch(ARGV[2], '%S+') do redis.call('SADD', KEYS[3] .. m, ARGV[3]) end
return 1`;

/** KEYS: hash, all-set, model prefix. ARGV: socketId, identityKey. */
export const UNREGISTER = `
if redis.call('HGET', KEYS[1], 'socketId') ~= ARGV[1] then return 0 end
local models = redis.call('HGET', KEYS[1], 'models') or ''
for m in string.gmatch(models, '%S+') do redis.call('SREM', KEYS[3] .. m, ARGV[2]) end
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1`;

/** ARGV: socketId, load, now, ttl. */
export const HEARTBEAT = `
if redis.call('HGET', KEYS[1], 'socketId') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'load', ARGV[2], 'seenAt', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** ARGV: socketId, now. */
export const RESERVE = `
if redis.call('HGET', KEYS[1], 'socketId') ~= ARGV[1] then return 0 end
local f = redis.call('HMGET', KEYS[1], 'active', 'load', 'capacity')
local active = tonumber(f[1]) or 0
local load = tonumber(f[2]) or 0
if math.max(active, load) >= (tonumber(f[3]) or 0) then return 0 end
redis.call('HSET', KEYS[1], 'active', active + 1, 'lastAssignedAt', ARGV[2])
return 1`;

/** ARGV: socketId. */
export const RELEASE = `
if redis.call('HGET', KEYS[1], 'socketId') ~= ARGV[1] then return 0 end
if (tonumber(redis.call('HGET', KEYS[1], 'active')) or 0) > 0 then redis.call('HINCRBY', KEYS[1], 'active', -1) end
return 1`;

/** ARGV: socketId, now. */
export const FAILURE = `
if redis.call('HGET', KEYS[1], 'socketId') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'lastFailureAt', ARGV[2])
return 1`;
