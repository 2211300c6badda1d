-- Mirroring worker: move a job that kept failing to the dead-letter stream and acknowledge it in the
-- outbox, atomically, so the destination's queue moves on and nothing is lost.
-- ARGV: 1 outbox key, 2 group, 3 outbox entry id, 4 dead-letter stream, then field/value pairs.
-- Drop the acknowledged head of the outbox: everything before the oldest pending entry, or up to
-- this entry when nothing is pending (entries are read in order, so all older ones are acked).
local function trim_acked(key, grp, id)
  local p = redis.call('XPENDING', key, grp)
  local minid = p[2]
  if tonumber(p[1]) == 0 then
    local ms, seq = string.match(id, '^(%d+)-(%d+)$')
    minid = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
  end
  redis.call('XTRIM', key, 'MINID', minid)
end

local fields = {}
for i = 5, #ARGV do table.insert(fields, ARGV[i]) end
local id = redis.call('XADD', ARGV[4], '*', unpack(fields))
redis.call('XACK', ARGV[1], ARGV[2], ARGV[3])
trim_acked(ARGV[1], ARGV[2], ARGV[3])
return id
