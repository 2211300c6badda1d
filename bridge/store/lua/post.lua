-- Post a message atomically: stream entry, message hash, search index, activity, mentions,
-- inbound dedupe and platform id map. Nothing is written if a check fails.
-- KEYS: none are known before XADD returns the id; key names are built from ARGV (single-node Redis).
-- ARGV: 1 channel, 2 username, 3 text, 4 ts (ms), 5 origin, 6 reply_to, 7 index (1 = FT.ADDHASH),
--       8 dedupe key ("" = none), 9 dedupe ttl (s), 10 platform message key ("" = none),
--       11 maxlen (0 = keep all), 12 mentioned usernames (space separated), 13 origin channel key,
--       14/15 mirror log key and MAXLEN, 16 platform message id of the original ("" = none),
--       17 attachments as JSON ("" = none; names, sizes, types and origin urls, never bytes),
--       18 what the message has, for `has:` search (TAG: "file", "file,image"; "" = nothing)
local channel, username, text, ts = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local dedupe, ttl, pmsg = ARGV[8], tonumber(ARGV[9]), ARGV[10]

if dedupe ~= '' then
  local seen = redis.call('GET', dedupe)
  if seen then return {'duplicate', seen} end
end
if redis.call('SISMEMBER', 'channels', channel) == 0 then return {'no_channel', channel} end
-- RediSearch 1.x keeps the index in the key idx:<name>; without it FT.ADDHASH would fail after the
-- stream and hash writes, which a Lua error does not roll back.
if ARGV[7] == '1' and redis.call('EXISTS', 'idx:idx:messages') == 0 then return {'no_index', 'idx:messages'} end
if redis.call('SISMEMBER', 'usernames', username) == 0 then return {'no_user', username} end

local fields = {'type', 'message', 'username', username}
if ARGV[5] ~= '' then
  table.insert(fields, 'origin'); table.insert(fields, ARGV[13])
end
local id = room_event(channel, 'message', fields, tonumber(ARGV[11]), ARGV[14], tonumber(ARGV[15]))

local key = 'message:' .. id
local hash = {'channel', channel, 'username', username, 'message', text, 'ts', ts}
if ARGV[5] ~= '' then
  table.insert(hash, 'origin'); table.insert(hash, ARGV[5])
end
if ARGV[16] ~= '' then
  -- where the original lives (a reply to it from that same channel quotes it natively)
  table.insert(hash, 'origin_channel'); table.insert(hash, ARGV[13])
  table.insert(hash, 'origin_id'); table.insert(hash, ARGV[16])
end
if ARGV[6] ~= '' then
  table.insert(hash, 'reply_to'); table.insert(hash, ARGV[6])
end
if (ARGV[17] or '') ~= '' then
  table.insert(hash, 'files'); table.insert(hash, ARGV[17])
  table.insert(hash, 'has'); table.insert(hash, ARGV[18])
end
redis.call('HSET', key, unpack(hash))

if ARGV[7] == '1' then
  redis.call('FT.ADDHASH', 'idx:messages', key, '1.0', 'REPLACE')
end

local score = tonumber(ts)
redis.call('ZADD', 'cb:posts:' .. username, score, id)
redis.call('ZADD', 'cb:active', score, username)
redis.call('ZADD', 'cb:active:' .. channel, score, username)
for mentioned in string.gmatch(ARGV[12], '%S+') do
  if mentioned ~= username and redis.call('SISMEMBER', 'usernames', mentioned) == 1 then
    redis.call('ZADD', 'cb:mentions:' .. mentioned, score, id)
  end
end
if pmsg ~= '' then redis.call('SET', pmsg, id) end
if dedupe ~= '' then redis.call('SET', dedupe, id, 'EX', ttl) end
return {'ok', id}
