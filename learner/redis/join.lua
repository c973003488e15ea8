-- One side of a prediction/outcome pair arrives. KEYS[1] the pair's hash;
-- ARGV[1] this side's field ("p" or "o"), ARGV[2] the other side's field, ARGV[3] payload, ARGV[4] horizon (ms).
-- When the other side waits, the pair is complete: return it and delete the key, so an example is
-- produced once. Otherwise keep this side (a redelivery overwrites it) until the horizon.
local other = redis.call('HGET', KEYS[1], ARGV[2])
if other then
  redis.call('DEL', KEYS[1])
  return other
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return false
