-- Promotes a version. KEYS[1] champion, KEYS[2] pinned flag, KEYS[3] history list.
-- ARGV: version, reason, manual ("1"/"0"), pin ("1"/"0"), time (RFC 3339), model, by.
-- Returns the previous champion (0 when none), or -1 when an automatic promotion meets a pin.
local manual, pin = ARGV[3] == '1', ARGV[4] == '1'
if not manual and redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
local prev = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], ARGV[1])
if manual then
  if pin then redis.call('SET', KEYS[2], '1') else redis.call('DEL', KEYS[2]) end
  redis.call('LPUSH', KEYS[3], cjson.encode({time = ARGV[5], model = ARGV[6], version = tonumber(ARGV[1]),
    previous = prev, reason = ARGV[2], pinned = pin, by = ARGV[7]}))
  redis.call('LTRIM', KEYS[3], 0, 999)
end
return prev
