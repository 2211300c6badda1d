-- Mirroring worker, router stage: fan a batch of mirror-log entries out to the outboxes of their
-- rooms' linked destinations (never the origin), and XACK them, atomically (routing happens once).
-- Cost per entry: one XRANGE of the room entry (and, for a message, one HMGET of where it came
-- from), one SMEMBERS of that room's links, and per destination one HGET + one XADD; it does not
-- depend on how many rooms exist. Then the log's routed head is trimmed (trim_acked,
-- _mirror_prelude.lua).
-- ARGV: 1 log key, 2 group, 3 channel stream prefix, 4 room links prefix, 5 outbox prefix,
--       6 outbox registry hash, 7 partition, 8 show join/leave (1/0), 9 message key prefix,
--       10 mirror map key prefix, then 4 per entry: log entry id, channel, type, room entry id
--       (type 'wake': channel = destination key; only acked and reported; type 'gone': a pending
--       entry trimmed from the log, only acked; type 'reaction': room entry id = the message whose
--       reactions changed, routed to every link, see bridge/core/reactions.py).
-- Returns a flat list: destination keys that got a job (or a wake), then '|', then counts
-- {routed entries, jobs, unroutable}.
local log, group = ARGV[1], ARGV[2]
local chprefix, lprefix, oprefix, registry, part = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local show_jl, mprefix, mapprefix = ARGV[8] == '1', ARGV[9], ARGV[10]
local touched, seen = {}, {}
local routed, jobs, lost = 0, 0, 0

local function touch(dest)
  if not seen[dest] then seen[dest] = true; table.insert(touched, dest) end
end

for i = 11, #ARGV, 4 do
  local logid, channel, kind, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if kind == 'wake' then
    touch(channel)
  elseif kind == 'gone' then
    -- the log entry was trimmed while pending: nothing to route, only the ack below
  elseif (kind == 'join' or kind == 'leave') and not show_jl then
    routed = routed + 1
  else
    local origin, target, user, known, jobentry = '', entry, '', false, entry
    local rec = {}
    if kind == 'reaction' then
      -- not a room stream entry: `entry` is the message; every copy reconciles its reactions (none
      -- is an echo), and each event is its own job (idempotency key = the log entry id)
      jobentry = logid
      if redis.call('EXISTS', mprefix .. entry) == 0 then kind = 'gone' end
    else
      rec = redis.call('XRANGE', chprefix .. channel, entry, entry)
    end
    if kind == 'gone' then
      routed = routed + 1
      kind = nil
    elseif rec[1] or kind == 'reaction' then
      known = true
      local f = (rec[1] or {{}, {}})[2]
      for j = 1, #f, 2 do
        if f[j] == 'origin' then origin = f[j + 1]
        elseif f[j] == 'id' then target = f[j + 1]
        elseif f[j] == 'username' then user = f[j + 1] end
      end
      if kind == 'message' and origin == '' and rec[1] then
        -- a message's entry names no origin (entries written before did): the channel it came
        -- from is the hash's origin_channel, for a message that has an origin platform (_post.lua)
        local h = redis.call('HMGET', mprefix .. entry, 'origin', 'origin_channel')
        if h[1] and h[1] ~= '' and h[2] then origin = h[2] end
      end
    end
    -- The room entry was trimmed (channel MAXLEN) before routing: a message can still be routed
    -- from its hash (skipping every channel of the origin platform, so nothing echoes); an edit or
    -- delete no longer says which message it changes, and a join/leave is not worth guessing.
    local skip_platform = nil
    if kind and not known then
      if kind == 'message' and redis.call('EXISTS', mprefix .. entry) == 1 then
        skip_platform = (redis.call('HGET', mprefix .. entry, 'origin') or '') .. ':'
      else
        lost = lost + 1
        kind = nil
      end
    end
    if kind then
      routed = routed + 1
      local links = redis.call('SMEMBERS', lprefix .. channel)
      for _, dest in ipairs(links) do
        local echo = dest == origin
        if echo and kind == 'delete' and redis.call('HEXISTS', mapprefix .. target, dest) == 1 then
          -- a moderator deleted one mirrored part on that channel: its other parts go too
          echo = false
        end
        if skip_platform and skip_platform ~= ':' and string.sub(dest, 1, #skip_platform) == skip_platform then
          echo = true
        end
        if not echo then
          local ob = oprefix .. dest
          if redis.call('HGET', registry, dest) ~= part then
            redis.call('HSET', registry, dest, part)
            redis.pcall('XGROUP', 'CREATE', ob, group, '0', 'MKSTREAM')
          end
          if user ~= '' then
            redis.call('XADD', ob, '*', 'core', target, 'channel', channel, 'type', kind, 'entry', jobentry, 'user', user)
          else
            redis.call('XADD', ob, '*', 'core', target, 'channel', channel, 'type', kind, 'entry', jobentry)
          end
          jobs = jobs + 1
          touch(dest)
        end
      end
    end
  end
  redis.call('XACK', log, group, logid)
end
-- every destination has what it needs in its outbox now: the routed head of the log goes
-- (only up to the oldest entry still pending, so nothing unrouted is ever trimmed)
if #ARGV >= 11 then trim_acked(log, group, ARGV[#ARGV - 3]) end
table.insert(touched, '|')
table.insert(touched, routed)
table.insert(touched, jobs)
table.insert(touched, lost)
return touched
