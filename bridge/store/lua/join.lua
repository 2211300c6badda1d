-- Join or leave a channel: membership set plus a `join` / `leave` event in the channel stream
-- (the guide's stretch goal), only when membership actually changes.
-- ARGV: 1 channel, 2 username, 3 'join' | 'leave', 4 ts (ms), 5 maxlen, 6/7 mirror log key and MAXLEN
local channel, name, kind = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SISMEMBER', 'channels', channel) == 0 then return {'no_channel', channel} end
local changed
if kind == 'join' then
  changed = redis.call('SADD', 'cb:members:' .. channel, name)
else
  changed = redis.call('SREM', 'cb:members:' .. channel, name)
end
if changed == 0 then return {'unchanged', ''} end
local score = tonumber(ARGV[4])
redis.call('ZADD', 'cb:active', score, name)
redis.call('ZADD', 'cb:active:' .. channel, score, name)

local id = room_event(channel, kind, {'type', kind, 'username', name}, tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]))
return {'ok', id}
