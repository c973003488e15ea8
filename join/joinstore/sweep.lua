-- Claims predictions whose horizon passed. KEYS[1] a bucket's due set; ARGV: now (ms), limit, the
-- bucket's join-key prefix. Returns a flat list id, payload, id, payload... Claimed pairs keep their
-- key (marked "c") until the caller acks, so a crash before the ack yields them again; ids whose
-- prediction is gone (expired) or whose pair is joined or done leave the due set.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[3] .. id
  local p = redis.call('HGET', key, 'p')
  if p and redis.call('HEXISTS', key, 'j') == 0 and redis.call('HEXISTS', key, 'd') == 0 then
    redis.call('HSET', key, 'c', '1')
    table.insert(out, id)
    table.insert(out, p)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
