-- Shared by every script that appends to a channel stream (prepended when the scripts load).
--
-- The guide keys message hashes by stream id (`message:<id>`), but Redis makes stream ids unique
-- per stream only: two channels can get the same `*` id in the same millisecond, and the second
-- HSET would overwrite the first message. So ids are allocated here, globally increasing across
-- all channels (`cb:lastid`), from the server clock, and never below the stream's own last entry
-- (entries written by other tools with XADD * stay valid).
--
-- ``batch`` (post_many.lua; nil for one event) keeps the clock, the last id and the streams already
-- checked in memory for the whole call; flush_ids(batch) writes cb:lastid once at its end.
local function next_stream_id(stream, batch)
  local ms
  if batch and batch.ms then
    ms = batch.ms
  else
    local t = redis.call('TIME')
    ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    if batch then batch.ms = ms end
  end
  local seq = 0
  local function bump(id)
    if not id then return end
    local lms, lseq = string.match(id, '^(%d+)-(%d+)$')
    lms, lseq = tonumber(lms), tonumber(lseq)
    if lms > ms then ms, seq = lms, lseq + 1
    elseif lms == ms and lseq >= seq then seq = lseq + 1 end
  end
  if batch and batch.lastid then bump(batch.lastid) else bump(redis.call('GET', 'cb:lastid')) end
  if not (batch and batch.streams[stream]) then
    local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
    if top[1] then bump(top[1][1]) end
  end
  local id = string.format('%d-%d', ms, seq)
  if batch then
    batch.lastid = id; batch.streams[stream] = true
  else
    redis.call('SET', 'cb:lastid', id)
  end
  return id
end

local function flush_ids(batch)
  if batch.lastid then redis.call('SET', 'cb:lastid', batch.lastid) end
end

-- XADD to a channel stream with a globally unique id; maxlen 0 keeps every entry.
local function xadd_channel(stream, maxlen, fields, batch)
  local id = next_stream_id(stream, batch)
  if maxlen > 0 then
    return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id, unpack(fields))
  end
  return redis.call('XADD', stream, id, unpack(fields))
end

-- Append a room event: the channel stream entry (``fields`` start with type), then one entry in the
-- partitioned mirror log the fan-out worker reads (log_key "" = none). Returns the stream id.
-- A room without links (no `cb:links:<channel>`, what the router reads) gets no log entry: the
-- router would route it nowhere, and on a big history that is ~50 bytes a message kept for nothing.
local function room_linked(channel, batch)
  if batch then
    batch.linked = batch.linked or {}
    if batch.linked[channel] == nil then
      batch.linked[channel] = redis.call('EXISTS', 'cb:links:' .. channel) == 1
    end
    return batch.linked[channel]
  end
  return redis.call('EXISTS', 'cb:links:' .. channel) == 1
end

local function room_event(channel, kind, fields, maxlen, log_key, log_maxlen, batch)
  local id = xadd_channel('channel:' .. channel, maxlen, fields, batch)
  if log_key ~= '' and room_linked(channel, batch) then
    redis.call('XADD', log_key, 'MAXLEN', '~', log_maxlen, '*', 'channel', channel, 'id', id, 'type', kind)
  end
  return id
end

-- edit.lua and delete.lua share their argument tail, starting at ARGV[t]: admin flag, index mode
-- (1 = RediSearch 1.x explicit indexing), dedupe key, dedupe TTL, stream MAXLEN, origin channel key,
-- mirror log key and its MAXLEN.
local function change_args(t)
  return {
    admin = ARGV[t] == '1', explicit = ARGV[t + 1] == '1', dedupe = ARGV[t + 2], ttl = tonumber(ARGV[t + 3]),
    maxlen = tonumber(ARGV[t + 4]), origin = ARGV[t + 5], log = ARGV[t + 6], logmax = tonumber(ARGV[t + 7]),
  }
end

-- The checks before an edit or delete writes anything: a replayed platform event, a missing message,
-- someone else's message (unless admin). Returns an error reply, or nil, the channel and the owner.
local function check_change(c, id, who)
  if c.dedupe ~= '' then
    local seen = redis.call('GET', c.dedupe)
    if seen then return {'duplicate', seen} end
  end
  local owner = redis.call('HGET', 'message:' .. id, 'username')
  if not owner then return {'no_message', id} end
  if owner ~= who and not c.admin then return {'not_owner', owner} end
  if c.explicit and redis.call('EXISTS', 'idx:idx:messages') == 0 then return {'no_index', 'idx:messages'} end
  return nil, redis.call('HGET', 'message:' .. id, 'channel'), owner
end

-- After an edit or delete: the room event (stream + mirror log) and the dedupe record.
local function finish_change(c, channel, kind, fields)
  if c.origin ~= '' then
    table.insert(fields, 'origin'); table.insert(fields, c.origin)
  end
  local event = room_event(channel, kind, fields, c.maxlen, c.log, c.logmax)
  if c.dedupe ~= '' then redis.call('SET', c.dedupe, event, 'EX', c.ttl) end
  return {'ok', event, channel}
end

