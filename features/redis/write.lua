-- Writes one entity's feature state if nobody changed it since it was read (compare-and-set on v).
-- KEYS[1]: the entity hash. ARGV: [1] the version read ("0": none), [2] the new state, [3] ttl in ms,
-- [4] number of marks, [5] number of mark-list appends, then the marks as (field, value) pairs, the
-- appends as (list field, ids) pairs, and last the list fields of mark buckets to delete with their
-- marks. A list holds its bucket's event ids, each written as "<length>:<id>".
local key = KEYS[1]
if (redis.call('HGET', key, 'v') or '0') ~= ARGV[1] then
  return 0
end

local function hset(args)
  for i = 1, #args, 1000 do
    redis.call('HSET', key, unpack(args, i, math.min(i + 999, #args)))
  end
end

local set = {'v', tostring(tonumber(ARGV[1]) + 1), 's', ARGV[2]}
local i = 6
for _ = 1, tonumber(ARGV[4]) do
  set[#set + 1] = ARGV[i]
  set[#set + 1] = ARGV[i + 1]
  i = i + 2
end
for _ = 1, tonumber(ARGV[5]) do
  set[#set + 1] = ARGV[i]
  set[#set + 1] = (redis.call('HGET', key, ARGV[i]) or '') .. ARGV[i + 1]
  i = i + 2
end
hset(set)

for j = i, #ARGV do
  local ids = redis.call('HGET', key, ARGV[j])
  if ids then
    local del, pos = {}, 1
    while pos <= #ids do
      local colon = string.find(ids, ':', pos, true)
      if not colon then break end
      local n = tonumber(string.sub(ids, pos, colon - 1))
      del[#del + 1] = 'e:' .. string.sub(ids, colon + 1, colon + n)
      pos = colon + n + 1
      if #del == 1000 then
        redis.call('HDEL', key, unpack(del))
        del = {}
      end
    end
    if #del > 0 then
      redis.call('HDEL', key, unpack(del))
    end
  end
  redis.call('HDEL', key, ARGV[j])
end
redis.call('PEXPIRE', key, ARGV[3])
return 1
