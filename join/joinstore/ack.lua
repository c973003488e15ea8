-- The examples of several pairs of one bucket are durable. KEYS[1] the bucket's due set,
-- KEYS[2..n+1] the pairs' hashes; ARGV: ttl (ms), implicit labels on ("1"/"0"), then the n event
-- ids in the order of the keys. Only a tombstone ("d") stays of each pair, until the ttl, so that a
-- redelivered prediction or outcome neither joins again nor waits for an implicit label. (DEL and a
-- new hash, not HDEL of the four other fields: HDEL costs Redis several times more.) Without
-- implicit labels nothing was queued for the sweeper; what an earlier run with them queued, the
-- sweeper drops once it finds the pair done.
local n = #KEYS - 1
for i = 1, n do
  local key = KEYS[i + 1]
  redis.call('DEL', key)
  redis.call('HSET', key, 'd', '1')
  redis.call('PEXPIRE', key, ARGV[1])
  if ARGV[2] == '1' then
    redis.call('ZREM', KEYS[1], ARGV[2 + i])
  end
end
return n
