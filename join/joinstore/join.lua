-- One side of a prediction/outcome pair arrives. KEYS[1] the pair's hash, KEYS[2] its bucket's due set.
-- ARGV: this side's field ("p" or "o"), the other side's field, payload, ttl (ms), implicit labels
-- on ("1"/"0"), due time (ms), event id.
-- A closed pair takes nothing: claimed by the implicit-label sweeper ("c") or done ("d": its
-- example is durable). When the other side waits, the pair is complete: keep both sides, note which
-- side completed it ("j"), take it off the sweeper's due set and return the other side. Until the
-- caller acks the example (ack.lua), that side arriving again (the stage's retry after a failed
-- produce) returns the pair again, so nothing is lost; the other side arriving again (a duplicate
-- from a producer) returns nothing, so the example is made once. Otherwise keep this side (a
-- redelivery overwrites it) until the ttl, and queue a prediction for the sweeper when implicit
-- labels are on.
if redis.call('HEXISTS', KEYS[1], 'c') == 1 or redis.call('HEXISTS', KEYS[1], 'd') == 1 then
  return false
end
local joined = redis.call('HGET', KEYS[1], 'j')
if joined and joined ~= ARGV[1] then
  return false
end
local other = redis.call('HGET', KEYS[1], ARGV[2])
if other then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], 'j', ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[7])
  return other
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] == '1' and ARGV[1] == 'p' then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[6], ARGV[7])
end
return false
