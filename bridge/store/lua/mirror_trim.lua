-- Mirroring worker: drop the acknowledged head of an outbox (XTRIM MINID). Everything older than
-- the oldest pending entry, or than the group's last delivered id + 1 when nothing is pending, has
-- been delivered (or dead-lettered). ARGV: 1 outbox key, 2 group. Returns the number trimmed.
local key, group = ARGV[1], ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
local p = redis.call('XPENDING', key, group)
local minid
if tonumber(p[1]) > 0 then
  minid = p[2]
else
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local name, last
    for j = 1, #g, 2 do
      if g[j] == 'name' then name = g[j + 1] elseif g[j] == 'last-delivered-id' then last = g[j + 1] end
    end
    if name == group then
      local ms, seq = string.match(last, '^(%d+)-(%d+)$')
      minid = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
  end
end
if not minid then return 0 end
return redis.call('XTRIM', key, 'MINID', minid)
