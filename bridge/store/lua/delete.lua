-- Delete a message: a `delete` event in the channel stream (mirrors follow), the hash and its index
-- entry removed (FT.DEL ... DD on RediSearch 1.x; on 2.x DEL is enough), its top-poster counts
-- lowered (_top.lua). ARGV: 1 message id, 2 requester username, 3.. the shared tail of change_args
-- (_prelude.lua).
local id, who = ARGV[1], ARGV[2]
local c = change_args(3)
local err, channel, owner = check_change(c, id, who)
if err then return err end

local key = 'message:' .. id
local thread = redis.call('HGET', key, 'thread')
if thread and thread ~= '' and thread ~= id then  -- a reply leaves its thread (a root's thread stays)
  redis.call('ZREM', 'cb:thread:' .. thread, id)
  if redis.call('EXISTS', 'message:' .. thread) == 1 then redis.call('HINCRBY', 'message:' .. thread, 'replies', -1) end
end
count_docs(-redis.call('HEXISTS', key, 'ts'))  -- (another tool's hash without ts was never counted)
forget_ids(id, key, false)  -- the origin's id map (_forget.lua); the copies' go with the delete's delivery
if c.explicit then
  redis.call('FT.DEL', 'idx:messages', key, 'DD')
end
redis.call('DEL', key)
redis.call('ZREM', 'cb:backdated:' .. channel, id)  -- (_post.lua: a message recorded after newer ones)
count_post(channel, owner, -1)
return finish_change(c, channel, 'delete', {'type', 'delete', 'id', id, 'username', who})
