-- Mirroring worker: move a job that kept failing to the dead-letter stream and acknowledge it in the
-- outbox, atomically, so the destination's queue moves on and nothing is lost.
-- ARGV: 1 outbox key, 2 group, 3 outbox entry id, 4 dead-letter stream, then field/value pairs.
-- trim_acked(key, group, id) comes from _mirror_prelude.lua.

local fields = {}
for i = 5, #ARGV do table.insert(fields, ARGV[i]) end
local id = redis.call('XADD', ARGV[4], '*', unpack(fields))
redis.call('XACK', ARGV[1], ARGV[2], ARGV[3])
trim_acked(ARGV[1], ARGV[2], ARGV[3])
return id
