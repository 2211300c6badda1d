-- Edit a message: new text in the hash, re-index, and an `edit` event in the channel stream so
-- mirrors follow. ARGV: 1 message id, 2 new text, 3 ts (ms), 4 editor username, 5.. the shared
-- tail of change_args (_prelude.lua), 13 '1' when the edit says which files the message has now
-- (a Discord edit lists its remaining attachments), 14 their JSON ("" = none left), 15 `has` tags.
local id, text, ts, editor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local c = change_args(5)
local err, channel = check_change(c, id, editor)
if err then return err end

local key = 'message:' .. id
redis.call('HSET', key, 'message', text, 'edited_ts', ts)
if ARGV[13] == '1' then
  if ARGV[14] == '' then
    redis.call('HDEL', key, 'files', 'has')
  else
    redis.call('HSET', key, 'files', ARGV[14], 'has', ARGV[15])
  end
end
if c.explicit then
  redis.call('FT.ADDHASH', 'idx:messages', key, '1.0', 'REPLACE')
end
return finish_change(c, channel, 'edit', {'type', 'edit', 'id', id, 'username', editor})
