-- Move a user's last-seen id for a channel forward, never back (two readers racing cannot make
-- already-read messages unread again). KEYS[1] user hash; ARGV: 1 field (channel:<name>), 2 stream id.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local cms, cseq = string.match(current, '^(%d+)-(%d+)$')
  local nms, nseq = string.match(ARGV[2], '^(%d+)-(%d+)$')
  if cms and nms then
    cms, cseq, nms, nseq = tonumber(cms), tonumber(cseq), tonumber(nms), tonumber(nseq)
    if nms < cms or (nms == cms and nseq <= cseq) then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
