-- Edit a message: new text in the hash, re-index, and an `edit` event in the channel stream so
-- mirrors follow. ARGV: 1 message id, 2 new text, 3 ts (ms), 4 editor username, 5 editor is admin
-- (1/0), 6 index (1 = FT.ADDHASH), 7 dedupe key ("" = none), 8 dedupe ttl (s), 9 maxlen,
-- 10 origin channel key ("" = none), 11/12 mirror log key and MAXLEN
local id, text, ts, editor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local dedupe = ARGV[7]
if dedupe ~= '' then
  local seen = redis.call('GET', dedupe)
  if seen then return {'duplicate', seen} end
end
local key = 'message:' .. id
local owner = redis.call('HGET', key, 'username')
if not owner then return {'no_message', id} end
if owner ~= editor and ARGV[5] ~= '1' then return {'not_owner', owner} end
local channel = redis.call('HGET', key, 'channel')
redis.call('HSET', key, 'message', text, 'edited_ts', ts)

if ARGV[6] == '1' then
  redis.call('FT.ADDHASH', 'idx:messages', key, '1.0', 'REPLACE')
end
local fields = {'type', 'edit', 'id', id, 'username', editor}
if ARGV[10] ~= '' then
  table.insert(fields, 'origin'); table.insert(fields, ARGV[10])
end
local event = room_event(channel, 'edit', fields, tonumber(ARGV[9]), ARGV[11], tonumber(ARGV[12]))
if dedupe ~= '' then redis.call('SET', dedupe, event, 'EX', tonumber(ARGV[8])) end
return {'ok', event, channel}
