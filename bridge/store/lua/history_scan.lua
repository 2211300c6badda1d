-- `history` past backdated messages (Messages.history, keys.backdated): the newest entries of a
-- channel stream that are not in its backdated set, read on the server so that a long backdated run
-- at the stream's tail (a 10,000-message backfill recorded after the live messages) costs one call
-- instead of travelling to the client. Read only.
-- KEYS[1] the channel stream, KEYS[2] its backdated set. ARGV: 1 where to start (an XREVRANGE end:
-- '+' or '(' .. id), 2 how many entries are wanted, 3 at most this many entries read.
-- Returns {entries as XREVRANGE gives them, newest first; where to go on ('' = the stream's start)}.
local want, cap = tonumber(ARGV[2]), tonumber(ARGV[3])
local out, from, read = {}, ARGV[1], 0
while read < cap do
  local page = redis.call('XREVRANGE', KEYS[1], from, '-', 'COUNT', 1000)
  for _, entry in ipairs(page) do
    read = read + 1
    if not redis.call('ZSCORE', KEYS[2], entry[1]) then
      out[#out + 1] = entry
      if #out >= want then return {out, '(' .. entry[1]} end
    end
  end
  if #page < 1000 then return {out, ''} end
  from = '(' .. page[#page][1]
end
return {out, from}
