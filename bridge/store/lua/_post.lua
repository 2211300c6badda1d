-- Post one message atomically: stream entry, message hash, search index, activity, mentions,
-- top-poster counters, inbound dedupe and platform id map. Nothing is written if a check fails.
-- Shared by post.lua (one message) and post_many.lua (a batch in one call: the bulk path).
-- KEYS: none are known before XADD returns the id; key names are built from the arguments (single-node Redis).
-- A (POST_ARGS arguments): 1 channel, 2 username, 3 text, 4 ts (ms), 5 origin, 6 reply_to (see parent_ref),
--       7 index (1 = FT.ADDHASH),
--       8 dedupe key ("" = none), 9 dedupe ttl (s), 10 platform message key ("" = none),
--       11 maxlen (0 = keep all), 12 mentioned usernames (space separated), 13 origin channel key,
--       14/15 mirror log key and MAXLEN, 16 platform message id of the original ("" = none),
--       17 attachments as JSON ("" = none; names, sizes, types and origin urls, never bytes),
--       18 what the message has, for `has:` search (TAG: "file", "file,image"; "" = nothing),
--       19 the id of the thread root this message is a reply in ("" = none; a reply's id means its
--          root: there are no nested threads), 20 "1" when the reply is also shown in the channel,
--       21/22/23 a cursor the message moves forward once it is recorded (or known already): hash key,
--          field, value (note_cursor in _cursor.lua; "" = none)
local POST_ARGS = 23

-- What one call (one message, or a post_many batch) keeps in memory and writes once at its end:
-- checks already made (channel and user exist, the index exists), the id allocator's state, the
-- activity times (max per user), the top-poster counts and the count of documents with ts
-- (_docs.lua). (No per-user post record: move_user.lua finds a user's messages in the index.) Every
-- check of a message runs before any of its writes, so a message either is written whole or is
-- refused; the end-of-call writes (flush_batch) are plain ZADD/ZINCRBY/SET that cannot fail.
-- A message's POST_ARGS fields travel as ONE argument, joined by NUL ("\0": message text never holds
-- one, validation drops C0 controls): the client encodes one argument per message instead of 18.
-- (A plain find per field: a quarter cheaper than a gmatch capture, and this runs per message.)
local find, sub = string.find, string.sub
local function post_fields(joined, n)
  local A, k, from = {}, 0, 1
  while true do
    local nul = find(joined, '\0', from, true)
    k = k + 1
    if not nul then A[k] = sub(joined, from); break end
    A[k] = sub(joined, from, nul - 1)
    from = nul + 1
  end
  if k ~= POST_ARGS then
    return nil, redis.error_reply('post: message ' .. n .. ' has ' .. k .. ' fields, not ' .. POST_ARGS)
  end
  return A
end

local function new_batch()
  -- active / top: user -> newest ts / messages this call, for cb:active and cb:top; rooms: the same
  -- two per channel ({active = {...}, top = {...}}, for cb:active:<c> and cb:top:<c>)
  return {
    streams = {}, member = {}, active = {}, top = {}, rooms = {}, index = nil, docs = 0, newest = {}, moved = {},
  }
end

-- Stream ids only grow, so a message said before one its channel already holds (a backfill or an
-- import into a channel with later messages) is recorded after it. Such a message is "backdated":
-- its id goes in cb:backdated:<channel>, scored by its ts, and `history` merges that set into the
-- stream by time (Messages.history). cb:newest-ts (channel -> ms) is the newest ts recorded in
-- stream order; BACKDATED_SLACK_MS of leeway keeps live posts stamped by bridge processes whose
-- clocks differ a little out of the set. A channel filled in order (live traffic, a backfill into
-- an empty channel) gets no entry in the set.
local BACKDATED_SLACK_MS = 5000
local function backdate(batch, channel, id, score)
  local newest = batch.newest[channel]
  if newest == nil then
    newest = tonumber(redis.call('HGET', 'cb:newest-ts', channel) or '') or false
  end
  if newest and score < newest - BACKDATED_SLACK_MS then
    redis.call('ZADD', 'cb:backdated:' .. channel, score, id)
  elseif not newest or score > newest then
    newest = score
    batch.moved[channel] = true
  end
  batch.newest[channel] = newest
end

local function is_member(batch, set, name)
  local k = set .. '\0' .. name
  local known = batch.member[k]
  if known == nil then
    known = redis.call('SISMEMBER', set, name) == 1
    batch.member[k] = known
  end
  return known
end

local function later(t, key, score)
  local cur = t[key]
  if not cur or cur < score then t[key] = score end
end

-- One post's activity and top-poster count, overall and in its channel (written by flush_batch).
local function count_post(batch, channel, username, score)
  local room = batch.rooms[channel]
  if not room then
    room = {active = {}, top = {}}
    batch.rooms[channel] = room
  end
  later(batch.active, username, score)
  later(room.active, username, score)
  batch.top[username] = (batch.top[username] or 0) + 1
  room.top[username] = (room.top[username] or 0) + 1
end

-- last activity only moves forward (imported history keeps the newer activity)
local function write_active(key, per)
  local args = {}
  for user, score in pairs(per) do args[#args + 1] = score; args[#args + 1] = user end
  redis.call('ZADD', key, 'GT', unpack(args))
end

local function write_top(key, per)
  for user, n in pairs(per) do redis.call('ZINCRBY', key, n, user) end
end

local function flush_batch(batch)
  flush_ids(batch)
  count_docs(batch.docs)
  local newest = {}
  for channel in pairs(batch.moved) do
    newest[#newest + 1] = channel; newest[#newest + 1] = string.format('%d', batch.newest[channel])
  end
  if #newest > 0 then redis.call('HSET', 'cb:newest-ts', unpack(newest)) end
  if next(batch.active) then
    write_active('cb:active', batch.active)
    write_top('cb:top', batch.top)
  end
  for channel, room in pairs(batch.rooms) do
    write_active('cb:active:' .. channel, room.active)
    write_top('cb:top:' .. channel, room.top)
  end
end

-- A reply_to / thread field is a core id, or "@" + the platform id map key of a parent that a
-- backfill posts earlier in the same post_many batch (its core id exists only once that one is
-- written): "" when that parent was not written (refused), as for a parent the bridge never saw.
local function parent_ref(ref)
  if string.sub(ref, 1, 1) ~= '@' then return ref end
  return redis.call('GET', string.sub(ref, 2)) or ''
end

local function post_message(A, batch)
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
  if not is_member(batch, 'channels', channel) then return {'no_channel', channel} end
  -- RediSearch 1.x keeps the index in the key idx:<name>; without it FT.ADDHASH would fail after the
  -- stream and hash writes, which a Lua error does not roll back.
  if A[7] == '1' then
    if batch.index == nil then batch.index = redis.call('EXISTS', 'idx:idx:messages') == 1 end
    if not batch.index then return {'no_index', 'idx:messages'} end
  end
  if not is_member(batch, 'usernames', username) then return {'no_user', username} end
  local reply_to, thread = parent_ref(A[6]), parent_ref(A[19])
  if thread ~= '' then
    local up = redis.call('HGET', 'message:' .. thread, 'thread')
    if up and up ~= '' then thread = up end
    -- the root is a message of this channel, or was one (a deleted root keeps its thread)
    local root_channel = redis.call('HGET', 'message:' .. thread, 'channel')
    if root_channel ~= channel and not (not root_channel and redis.call('EXISTS', 'cb:thread:' .. thread) == 1) then
      return {'bad_thread', thread}
    end
  end

  -- the stream entry is the guide's (`type message`) and nothing else: the author and where the
  -- message came from live in the hash alone. (A `username` here was ~12 B a message stored twice,
  -- stale after a rename: move_user.lua changes hashes only; an `origin` = the origin channel key
  -- was ~50 B more a platform message, stored twice too: the router reads origin_channel instead.)
  local fields = {'type', 'message'}
  local id = room_event(channel, 'message', fields, tonumber(A[11]), A[14], tonumber(A[15]), batch)

  local key = 'message:' .. id
  -- the fields in the order of the guide's search output and its loader (username, channel, message)
  local hash = {'username', username, 'channel', channel, 'message', text, 'ts', ts}
  if A[5] ~= '' then
    table.insert(hash, 'origin'); table.insert(hash, A[5])
  end
  -- where the original lives: the channel a message came from (mirror_route.lua: never echoed
  -- back there), and its platform id (a reply to it from that same channel quotes it natively;
  -- every reader of origin_channel for that also needs origin_id)
  if A[13] ~= '' and (A[5] ~= '' or A[16] ~= '') then
    table.insert(hash, 'origin_channel'); table.insert(hash, A[13])
  end
  if A[16] ~= '' then
    table.insert(hash, 'origin_id'); table.insert(hash, A[16])
  end
  if reply_to ~= '' then
    table.insert(hash, 'reply_to'); table.insert(hash, reply_to)
  end
  if (A[17] or '') ~= '' then
    table.insert(hash, 'files'); table.insert(hash, A[17])
    table.insert(hash, 'has'); table.insert(hash, A[18])
  end
  if thread ~= '' then
    table.insert(hash, 'thread'); table.insert(hash, thread)
    if A[20] == '1' then table.insert(hash, 'broadcast'); table.insert(hash, '1') end
  end
  redis.call('HSET', key, unpack(hash))

  if A[7] == '1' then
    redis.call('FT.ADDHASH', 'idx:messages', key, '1.0', 'REPLACE')
  end
  batch.docs = batch.docs + 1  -- a document with ts (_docs.lua)

  local score = tonumber(ts)
  backdate(batch, channel, id, score)
  if thread ~= '' then
    redis.call('ZADD', 'cb:thread:' .. thread, score, id)
    local root = 'message:' .. thread
    if redis.call('EXISTS', root) == 1 then
      redis.call('HSET', root, 'thread', thread)
      redis.call('HINCRBY', root, 'replies', 1)
      if A[7] == '1' then redis.call('FT.ADDHASH', 'idx:messages', root, '1.0', 'REPLACE') end
    end
  end
  count_post(batch, channel, username, score)
  for mentioned in string.gmatch(A[12], '%S+') do
    if mentioned ~= username and is_member(batch, 'usernames', mentioned) then
      redis.call('ZADD', 'cb:mentions:' .. mentioned, score, id)
    end
  end
  if pmsg ~= '' then redis.call('SET', pmsg, id) end
  if dedupe ~= '' then redis.call('SET', dedupe, id, 'EX', ttl) end
  return {'ok', id}
end

-- post_message, and a Redis error inside it (a key of the wrong type written by another tool) as
-- this message's own reply {'error', text}: the call goes on, so the other messages of a batch are
-- written and flush_batch always runs (its cb:lastid write is what keeps the next id unique: an id
-- handed out and not flushed could be handed out again in another channel and overwrite a hash).
-- Like a Lua error in any script, the failed message may be partly written; nothing else is.
-- A message recorded, or recorded before (a duplicate: a redelivery, a catch-up reading it again),
-- then moves its cursor in the same call: no write of its own for the adapter to wait for. A cursor
-- hash of the wrong type (written by another tool) must not turn a recorded message into an error
-- (it would be redelivered, found a duplicate, and fail again): the server log says so instead.
local function post_one(A, batch)
  local ok, reply = pcall(post_message, A, batch)
  if not ok then
    local text = type(reply) == 'table' and reply.err or tostring(reply)
    return {'error', text}
  end
  if A[21] ~= '' and (reply[1] == 'ok' or reply[1] == 'duplicate') then
    local moved, err = pcall(note_cursor, A[21], A[22], A[23])
    if not moved then
      local text = type(err) == 'table' and err.err or tostring(err)
      redis.log(redis.LOG_WARNING, 'chatbridge: cursor ' .. A[21] .. ' ' .. A[22] .. ' not moved: ' .. text)
    end
  end
  return reply
end
