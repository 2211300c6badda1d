-- Register a user: the guide's availability check (SISMEMBER usernames), the profile hash, the
-- usernames set and the user index, all or nothing.
-- ARGV: 1 username, 2 index (1 = FT.ADDHASH), 3.. field/value pairs for the user hash
local name = ARGV[1]
if redis.call('SISMEMBER', 'usernames', name) == 1 then return 0 end
local key = 'user:' .. name
local given = {}
for i = 3, #ARGV, 2 do
  table.insert(given, ARGV[i]); table.insert(given, ARGV[i + 1])
end
table.insert(given, 'username'); table.insert(given, name)
redis.call('HSET', key, unpack(user_fields(given)))
redis.call('SADD', 'usernames', name)
if ARGV[2] == '1' then
  redis.call('FT.ADDHASH', 'idx:users', key, '1.0', 'REPLACE')
end
return 1
