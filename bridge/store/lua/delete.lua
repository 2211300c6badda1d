-- Delete a message: a `delete` event in the channel stream (mirrors follow), the hash and its index
-- entry removed (FT.DEL ... DD on RediSearch 1.x, DEL on 2.x), activity records dropped.
-- ARGV: 1 message id, 2 requester username, 3 requester is admin (1/0), 4 index mode (1 = 1.x),
--       5 dedupe key, 6 dedupe ttl, 7 maxlen, 8 origin channel key ("" = none), 9/10 mirror log key and MAXLEN
local id, who = ARGV[1], ARGV[2]
local dedupe = ARGV[5]
if dedupe ~= '' then
  local seen = redis.call('GET', dedupe)
  if seen then return {'duplicate', seen} end
end
local key = 'message:' .. id
local owner = redis.call('HGET', key, 'username')
if not owner then return {'no_message', id} end
if owner ~= who and ARGV[3] ~= '1' then return {'not_owner', owner} end
local channel = redis.call('HGET', key, 'channel')
if ARGV[4] == '1' then
  redis.call('FT.DEL', 'idx:messages', key, 'DD')
end
redis.call('DEL', key)
redis.call('ZREM', 'cb:posts:' .. owner, id)

local fields = {'type', 'delete', 'id', id, 'username', who}
if ARGV[8] ~= '' then
  table.insert(fields, 'origin'); table.insert(fields, ARGV[8])
end
local event = room_event(channel, 'delete', fields, tonumber(ARGV[7]), ARGV[9], tonumber(ARGV[10]))
if dedupe ~= '' then redis.call('SET', dedupe, event, 'EX', tonumber(ARGV[6])) end
return {'ok', event, channel}
