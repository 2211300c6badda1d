-- Mirroring worker, delivery stage: after a destination accepted a job (or the job needs no call),
-- record it and acknowledge it in one step: the id map (core id -> platform ids on this destination,
-- and each platform id -> core id), the idempotency record, then XACK of the outbox entry and
-- XTRIM MINID of its acknowledged head (retention).
-- ARGV: 1 outbox key, 2 group, 3 outbox entry id, 4 idempotency key ("" = none), 5 its TTL (s),
--       6 id map key ("" = leave the map alone), 7 destination key (map field),
--       8 ids JSON ("" = remove this destination from the map), 9 core id,
--       10 n = number of platform-id keys to set, then n keys to SET to the core id,
--       then the platform-id keys to DEL (parts that no longer exist).
-- trim_acked(key, group, id) comes from _mirror_prelude.lua.

local outbox, group, eid = ARGV[1], ARGV[2], ARGV[3]
local done, ttl = ARGV[4], tonumber(ARGV[5])
local map, dest, ids, core = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local n = tonumber(ARGV[10])
if map ~= '' then
  if ids ~= '' then redis.call('HSET', map, dest, ids) else redis.call('HDEL', map, dest) end
end
for i = 11, 10 + n do redis.call('SET', ARGV[i], core) end
for i = 11 + n, #ARGV do redis.call('DEL', ARGV[i]) end
if done ~= '' then redis.call('SET', done, '1', 'EX', ttl) end
local acked = redis.call('XACK', outbox, group, eid)
trim_acked(outbox, group, eid)
return acked
