-- Record one person's reaction being added or removed on a core message, and when it changes the
-- state append a `reaction` room event to the mirror log (the worker then reconciles every copy).
-- State, not a counter: the field is the person's reaction, so a replayed or retried event changes
-- nothing, and an event older than the one recorded (Slack retries out of order) is ignored.
-- ARGV: 1 reactions hash key, 2 field (emoji \t channel key \t user id), 3 op ('+' add, '-' remove),
--       4 event time (seconds, decimal), 5 username, 6 message hash key, 7 mirror log key,
--       8 log MAXLEN, 9 core channel, 10 core message id
-- Returns {'changed'}, {'unchanged'}, {'stale'} or {'no_message'}.
local rkey, field, op, at, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', ARGV[6]) == 0 then return {'no_message'} end
local value = op .. at
if op == '+' then value = value .. '\t' .. user end
local cur = redis.call('HGET', rkey, field)
local changed = true
if cur then
  local seen = tonumber(string.match(cur, '^.([^\t]*)'))
  if seen and tonumber(at) < seen then return {'stale'} end
  changed = string.sub(cur, 1, 1) ~= op
elseif op == '-' then
  changed = false -- removing what was never recorded: keep the time, so a late older add stays out
end
redis.call('HSET', rkey, field, value)
if not changed then return {'unchanged'} end
local maxlen = tonumber(ARGV[8])
if maxlen and maxlen > 0 then
  redis.call('XADD', ARGV[7], 'MAXLEN', '~', maxlen, '*', 'channel', ARGV[9], 'id', ARGV[10], 'type', 'reaction')
else
  redis.call('XADD', ARGV[7], '*', 'channel', ARGV[9], 'id', ARGV[10], 'type', 'reaction')
end
return {'changed'}
