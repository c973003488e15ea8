-- Applies one event to its entity's state, once per event id, and returns the state before it.
-- KEYS[1] entity hash; ARGV[1] event id, ARGV[2] event time (ms), ARGV[3] ttl (ms).
-- The hash holds n (events), last (latest event time) and one "e:<id>" field per applied event with
-- the state it saw, so a redelivered event gets the same answer and changes nothing. The applied-marks
-- live as long as the entity hash does.
local key = KEYS[1]
local mark = 'e:' .. ARGV[1]
local seen = redis.call('HGET', key, mark)
if seen then
  local sep = string.find(seen, ':', 1, true)
  return {tonumber(string.sub(seen, 1, sep - 1)), tonumber(string.sub(seen, sep + 1))}
end
local n = tonumber(redis.call('HGET', key, 'n') or '0')
local last = tonumber(redis.call('HGET', key, 'last') or '0')
local t = tonumber(ARGV[2])
local newlast = last
if t > last then newlast = t end
redis.call('HSET', key, 'n', n + 1, 'last', newlast, mark, n .. ':' .. last)
redis.call('PEXPIRE', key, ARGV[3])
return {n, last}
