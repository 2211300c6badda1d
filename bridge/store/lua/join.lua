-- Join or leave a channel: membership set plus a `join` / `leave` event in the channel stream
-- (the guide's stretch goal), only when membership actually changes.
-- ARGV: 1 channel, 2 username, 3 'join' | 'leave', 4 ts (ms), 5 maxlen
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

local id = xadd_channel('channel:' .. channel, tonumber(ARGV[5]), {'type', kind, 'username', name})
-- Mirror log: one entry per room event in a partitioned stream the fan-out worker reads
-- (ARGV[6] = log key, "" = none; ARGV[7] = its approximate MAXLEN).
if ARGV[6] ~= '' then
  redis.call('XADD', ARGV[6], 'MAXLEN', '~', tonumber(ARGV[7]), '*', 'channel', channel, 'id', id, 'type', kind)
end
return {'ok', id}
