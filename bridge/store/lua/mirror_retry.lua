-- Mirroring worker, `chatbridge dlq retry`: put dead letters back at the end of their destination's
-- outbox, delete them from the dead-letter stream, and append a `wake` entry to the mirror-log
-- partition that owns the destination so the worker that owns it starts delivering, atomically.
-- ARGV: 1 dead-letter stream, 2 group, 3 outbox prefix, 4 registry hash, 5 log key prefix,
--       then dead-letter entry ids, or 'all' and a batch size (the oldest that many entries).
-- Returns {number re-queued, number of entries examined}.
local dlq, group, oprefix, registry, lprefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local entries = {}
if ARGV[6] == 'all' then
  entries = redis.call('XRANGE', dlq, '-', '+', 'COUNT', tonumber(ARGV[7]))
else
  for i = 6, #ARGV do
    local e = redis.call('XRANGE', dlq, ARGV[i], ARGV[i])
    if e[1] then table.insert(entries, e[1]) end
  end
end
local woken, count = {}, 0
for _, e in ipairs(entries) do
  local f, job, dest, part = e[2], {}, nil, nil
  for j = 1, #f, 2 do
    local k, v = f[j], f[j + 1]
    if k == 'destination' then dest = v
    elseif k == 'partition' then part = v
    elseif k == 'core' or k == 'channel' or k == 'type' or k == 'entry' or k == 'user' then
      table.insert(job, k); table.insert(job, v)
    end
  end
  if dest and #job > 0 then
    local ob = oprefix .. dest
    redis.pcall('XGROUP', 'CREATE', ob, group, '0', 'MKSTREAM')
    local owner = redis.call('HGET', registry, dest)
    if not owner then
      owner = part or '0'
      redis.call('HSET', registry, dest, owner)
    end
    redis.call('XADD', ob, '*', unpack(job))
    if not woken[dest] then
      woken[dest] = true
      redis.call('XADD', lprefix .. owner, '*', 'channel', dest, 'id', '0-0', 'type', 'wake')
    end
    count = count + 1
  end
  redis.call('XDEL', dlq, e[1])
end
return {count, #entries}
