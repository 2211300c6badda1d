-- Replace the top-poster counters (cb:top, cb:top:<channel>) with counts taken by `chatbridge
-- reindex` from every message hash, and mark them complete (cb:meta top = counters).
-- ARGV: channel, username, count triples (possibly none).
if #ARGV % 3 ~= 0 then return redis.error_reply('top_rebuild: arguments are not channel, username, count triples') end
redis.call('DEL', 'cb:top')
for _, ch in ipairs(redis.call('SMEMBERS', 'channels')) do redis.call('DEL', 'cb:top:' .. ch) end
for i = 1, #ARGV, 3 do
  local n = tonumber(ARGV[i + 2])
  if n and n > 0 then
    redis.call('ZINCRBY', 'cb:top', n, ARGV[i + 1])
    redis.call('ZINCRBY', 'cb:top:' .. ARGV[i], n, ARGV[i + 1])
  end
end
redis.call('HSET', 'cb:meta', 'top', 'counters')
return #ARGV / 3
