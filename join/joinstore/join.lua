-- One side of several prediction/outcome pairs of one bucket arrives. KEYS[1] the bucket's due set,
-- KEYS[2..n+1] the pairs' hashes. ARGV: this side's field ("p" or "o"), the other side's field, ttl
-- (ms), implicit labels on ("1"/"0"), due time (ms), then the n event ids, then the n payloads, in
-- the order of the keys. Returns, per pair, the other side's payload where the pair is complete,
-- "" where it is not.
-- For each pair: a closed pair takes nothing: claimed by the implicit-label sweeper ("c") or done
-- ("d": its example is durable). When the other side waits, the pair is complete: keep both sides,
-- note which side completed it ("j"), take it off the sweeper's due set (where implicit labels put it
-- there) and return the other side.
-- Until the caller acks the example (ack.lua), that side arriving again (the stage's retry after a
-- failed produce) returns the pair again, so nothing is lost; the other side arriving again (a
-- duplicate from a producer) returns nothing, so the example is made once. Otherwise keep this side
-- (a redelivery overwrites it) until the ttl, and queue a prediction for the sweeper when implicit
-- labels are on.
local n = #KEYS - 1
local side, other, ttl, implicit, due = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local out = {}
for i = 1, n do
  local key, id, payload = KEYS[i + 1], ARGV[5 + i], ARGV[5 + n + i]
  local res = ''
  local pair = redis.call('HMGET', key, 'c', 'd', 'j', other)
  if not pair[1] and not pair[2] then
    local joined, waiting = pair[3], pair[4]
    if not joined or joined == side then
      if waiting then
        redis.call('HSET', key, side, payload, 'j', side)
        if implicit == '1' then
          redis.call('ZREM', KEYS[1], id)
        end
        res = waiting
      else
        redis.call('HSET', key, side, payload)
        redis.call('PEXPIRE', key, ttl)
        if implicit == '1' and side == 'p' then
          redis.call('ZADD', KEYS[1], 'NX', due, id)
        end
      end
    end
  end
  out[i] = res
end
return out
