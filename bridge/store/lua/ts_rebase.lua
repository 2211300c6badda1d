-- Set the count of message documents that have `ts` (cb:meta `docs`, _docs.lua) to the index's own
-- num_docs, atomically with the proof that no document lacks `ts` (every document is then one with
-- ts), and stamp the check (cb:meta `ts_checked` = ARGV[1], ms). Returns the count, or -1 (and
-- changes nothing) while some document still lacks `ts`. Called by bridge/store/missing_ts.py when
-- the count and num_docs differ; read-only FT commands, the same on RediSearch 1.x and 2.x.
local missing = redis.call('FT.SEARCH', 'idx:messages', '-@ts:[-inf +inf]', 'NOCONTENT', 'LIMIT', 0, 1)
if tonumber(missing[1]) ~= 0 then return -1 end
local info = redis.call('FT.INFO', 'idx:messages')
for i = 1, #info - 1, 2 do
  local name = info[i]
  if type(name) == 'table' then name = name.ok end  -- a status reply
  if name == 'num_docs' then
    local n = math.floor(tonumber(info[i + 1]))
    redis.call('HSET', 'cb:meta', 'docs', n, 'ts_checked', ARGV[1])
    return n
  end
end
return redis.error_reply('ts_rebase: FT.INFO idx:messages has no num_docs')
