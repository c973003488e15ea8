-- Writes entity states for the feature store, each only if nobody changed it since it was read, and
-- returns the positions in KEYS of those that changed. An entity is one string: an 8-byte version,
-- then its state. KEYS: entity keys (of one hash slot on a cluster). ARGV[1]: the TTL in ms; then for
-- each key in turn the version read ("" for a new entity) and the new value. Arguments to redis.call
-- are strings: Redis would format Lua numbers with snprintf on every call.
local ttl = ARGV[1]
local conflicts = {}
for i, key in ipairs(KEYS) do
  if redis.call('GETRANGE', key, '0', '7') == ARGV[2 * i] then
    redis.call('SET', key, ARGV[2 * i + 1], 'PX', ttl)
  else
    conflicts[#conflicts + 1] = i
  end
end
return conflicts
