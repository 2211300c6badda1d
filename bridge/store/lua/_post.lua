-- Post one message atomically: stream entry, message hash, search index, activity, mentions,
-- top-poster counters, inbound dedupe and platform id map. Nothing is written if a check fails.
-- Shared by post.lua (one message) and post_many.lua (a batch in one call: the bulk path).
-- KEYS: none are known before XADD returns the id; key names are built from the arguments (single-node Redis).
-- A (POST_ARGS arguments): 1 channel, 2 username, 3 text, 4 ts (ms), 5 origin, 6 reply_to, 7 index (1 = FT.ADDHASH),
--       8 dedupe key ("" = none), 9 dedupe ttl (s), 10 platform message key ("" = none),
--       11 maxlen (0 = keep all), 12 mentioned usernames (space separated), 13 origin channel key,
--       14/15 mirror log key and MAXLEN, 16 platform message id of the original ("" = none),
--       17 attachments as JSON ("" = none; names, sizes, types and origin urls, never bytes),
--       18 what the message has, for `has:` search (TAG: "file", "file,image"; "" = nothing)
local POST_ARGS = 18

local function post_message(A)
  local channel, username, text, ts = A[1], A[2], A[3], A[4]
  local dedupe, ttl, pmsg = A[8], tonumber(A[9]), A[10]

  if dedupe ~= '' then
    local seen = redis.call('GET', dedupe)
    if seen then return {'duplicate', seen} end
  end
  if pmsg ~= '' then
    -- the same platform message recorded before (a backfill repeated, or history re-read after an
    -- unresumable gateway session): never a second copy, whatever its event key
    local known = redis.call('GET', pmsg)
    if known and redis.call('EXISTS', 'message:' .. known) == 1 then return {'duplicate', known} end
  end
  if redis.call('SISMEMBER', 'channels', channel) == 0 then return {'no_channel', channel} end
  -- RediSearch 1.x keeps the index in the key idx:<name>; without it FT.ADDHASH would fail after the
  -- stream and hash writes, which a Lua error does not roll back.
  if A[7] == '1' and redis.call('EXISTS', 'idx:idx:messages') == 0 then return {'no_index', 'idx:messages'} end
  if redis.call('SISMEMBER', 'usernames', username) == 0 then return {'no_user', username} end

  local fields = {'type', 'message', 'username', username}
  if A[5] ~= '' then
    table.insert(fields, 'origin'); table.insert(fields, A[13])
  end
  local id = room_event(channel, 'message', fields, tonumber(A[11]), A[14], tonumber(A[15]))

  local key = 'message:' .. id
  local hash = {'channel', channel, 'username', username, 'message', text, 'ts', ts}
  if A[5] ~= '' then
    table.insert(hash, 'origin'); table.insert(hash, A[5])
  end
  if A[16] ~= '' then
    -- where the original lives (a reply to it from that same channel quotes it natively)
    table.insert(hash, 'origin_channel'); table.insert(hash, A[13])
    table.insert(hash, 'origin_id'); table.insert(hash, A[16])
  end
  if A[6] ~= '' then
    table.insert(hash, 'reply_to'); table.insert(hash, A[6])
  end
  if (A[17] or '') ~= '' then
    table.insert(hash, 'files'); table.insert(hash, A[17])
    table.insert(hash, 'has'); table.insert(hash, A[18])
  end
  redis.call('HSET', key, unpack(hash))

  if A[7] == '1' then
    redis.call('FT.ADDHASH', 'idx:messages', key, '1.0', 'REPLACE')
  end

  local score = tonumber(ts)
  redis.call('ZADD', 'cb:posts:' .. username, score, id)
  redis.call('ZADD', 'cb:active', score, username)
  redis.call('ZADD', 'cb:active:' .. channel, score, username)
  count_post(channel, username, 1)
  for mentioned in string.gmatch(A[12], '%S+') do
    if mentioned ~= username and redis.call('SISMEMBER', 'usernames', mentioned) == 1 then
      redis.call('ZADD', 'cb:mentions:' .. mentioned, score, id)
    end
  end
  if pmsg ~= '' then redis.call('SET', pmsg, id) end
  if dedupe ~= '' then redis.call('SET', dedupe, id, 'EX', ttl) end
  return {'ok', id}
end
