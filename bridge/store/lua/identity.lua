-- Give a platform identity a stable core username on first sight: the first free candidate name
-- becomes a user (marked auto = 1) and the identity points at it. Returns the username.
-- ARGV: 1 identity key, 2 "<platform>:<workspace>", 3 platform user id, 4 display name,
--       5 index (1 = FT.ADDHASH), 6.. candidate usernames in order of preference
local existing = redis.call('GET', ARGV[1])
if existing then return existing end
for i = 6, #ARGV do
  local name = ARGV[i]
  if redis.call('SISMEMBER', 'usernames', name) == 0 then
    local key = 'user:' .. name
    redis.call('HSET', key, unpack(user_fields({'firstname', ARGV[4], 'username', name, 'auto', '1'})))
    redis.call('SADD', 'usernames', name)
    if ARGV[5] == '1' then
      redis.call('FT.ADDHASH', 'idx:users', key, '1.0', 'REPLACE')
    end
    redis.call('SET', ARGV[1], name)
    redis.call('HSET', 'cb:identities:' .. name, ARGV[2], ARGV[3])
    return name
  end
end
return false
