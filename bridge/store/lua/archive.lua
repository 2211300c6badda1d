-- Retention: remove an exported part of a channel's history from Redis, silently (no room event:
-- the platforms keep their copies; this is not a delete). For each message id: its index entry
-- (FT.DEL ... DD on 1.x), hash, platform id maps (_forget.lua) and top-poster count; then the stream entries before
-- `minid` (messages and their edit/delete/join/leave events) are trimmed, and the channel's
-- archive boundary (cb:archived, channel -> ms) moves forward.
-- ARGV: 1 channel, 2 index mode (1 = 1.x explicit), 3 minid (first entry id to keep), 4.. message ids
local channel, explicit, minid = ARGV[1], ARGV[2] == '1', ARGV[3]
if explicit and redis.call('EXISTS', 'idx:idx:messages') == 0 then return {'no_index', 'idx:messages'} end
local removed = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = 'message:' .. id
  local owner = redis.call('HGET', key, 'username')
  if owner then
    count_docs(-redis.call('HEXISTS', key, 'ts'))
    forget_ids(id, key, true)  -- its id maps, the origin's and every copy's (_forget.lua)
    if explicit then redis.call('FT.DEL', 'idx:messages', key, 'DD') end
    redis.call('DEL', key)
    redis.call('ZREM', 'cb:backdated:' .. channel, id)
    count_post(channel, owner, -1)
    removed = removed + 1
  end
end
redis.call('XTRIM', 'channel:' .. channel, 'MINID', minid)
local ms = tonumber(string.match(minid, '^(%d+)-'))
local cur = tonumber(redis.call('HGET', 'cb:archived', channel) or '0')
if ms > cur then redis.call('HSET', 'cb:archived', channel, ms) end
return {'ok', removed}
