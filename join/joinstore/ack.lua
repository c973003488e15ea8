-- The examples of several pairs of one bucket are durable. KEYS[1] the bucket's due set,
-- KEYS[2..n+1] the pairs' hashes; ARGV: ttl (ms), then the n event ids in the order of the keys.
-- Only a tombstone ("d") stays of each pair, until the ttl, so that a redelivered prediction or
-- outcome neither joins again nor waits for an implicit label.
local n = #KEYS - 1
for i = 1, n do
  local key = KEYS[i + 1]
  redis.call('HDEL', key, 'p', 'o', 'j', 'c')
  redis.call('HSET', key, 'd', '1')
  redis.call('PEXPIRE', key, ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1 + i])
end
return n
