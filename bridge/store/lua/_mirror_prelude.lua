-- Shared by the mirroring worker's route, commit and dead-letter scripts (prepended when they load).

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

