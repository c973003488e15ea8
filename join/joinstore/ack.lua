-- The example of a pair is durable. KEYS[1] the pair's hash, KEYS[2] its bucket's due set;
-- ARGV: ttl (ms), event id. Only a tombstone ("d") stays, until the ttl, so that a redelivered
-- prediction or outcome neither joins again nor waits for an implicit label.
redis.call('HDEL', KEYS[1], 'p', 'o', 'j', 'c')
redis.call('HSET', KEYS[1], 'd', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
