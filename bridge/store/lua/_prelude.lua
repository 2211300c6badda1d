-- Shared by every script that appends to a channel stream (prepended when the scripts load).
--
-- The guide keys message hashes by stream id (`message:<id>`), but Redis makes stream ids unique
-- per stream only: two channels can get the same `*` id in the same millisecond, and the second
-- HSET would overwrite the first message. So ids are allocated here, globally increasing across
-- all channels (`cb:lastid`), from the server clock, and never below the stream's own last entry
-- (entries written by other tools with XADD * stay valid).
local function next_stream_id(stream)
  local t = redis.call('TIME')
  local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local seq = 0
  local function bump(id)
    if not id then return end
    local lms, lseq = string.match(id, '^(%d+)-(%d+)$')
    lms, lseq = tonumber(lms), tonumber(lseq)
    if lms > ms then ms, seq = lms, lseq + 1
    elseif lms == ms and lseq >= seq then seq = lseq + 1 end
  end
  bump(redis.call('GET', 'cb:lastid'))
  local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if top[1] then bump(top[1][1]) end
  local id = string.format('%d-%d', ms, seq)
  redis.call('SET', 'cb:lastid', id)
  return id
end

-- XADD to a channel stream with a globally unique id; maxlen 0 keeps every entry.
local function xadd_channel(stream, maxlen, fields)
  local id = next_stream_id(stream)
  if maxlen > 0 then
    return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, id, unpack(fields))
  end
  return redis.call('XADD', stream, id, unpack(fields))
end

-- Append a room event: the channel stream entry (``fields`` start with type), then one entry in the
-- partitioned mirror log the fan-out worker reads (log_key "" = none). Returns the stream id.
local function room_event(channel, kind, fields, maxlen, log_key, log_maxlen)
  local id = xadd_channel('channel:' .. channel, maxlen, fields)
  if log_key ~= '' then
    redis.call('XADD', log_key, 'MAXLEN', '~', log_maxlen, '*', 'channel', channel, 'id', id, 'type', kind)
  end
  return id
end

