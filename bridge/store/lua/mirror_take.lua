-- Mirroring worker, delivery stage: read the next jobs of an outbox for this consumer and, in the
-- same round trip, what delivering them needs: whether each was already delivered (idempotency
-- record), the fields of the message it carries, and the core channel the destination is linked to
-- now (jobs of a room it was unlinked from are not delivered).
-- ARGV: 1 outbox key, 2 group, 3 consumer, 4 count, 5 start ('0' = this consumer's pending, '>' = new),
--       6/7 idempotency key = ARGV[6] .. entry .. ARGV[7], 8/9 message key = ARGV[8] .. core .. ARGV[9],
--       10 the destination's route key
-- Returns {} when there is nothing, else the current route ('' = unlinked), then two strings per job
-- (few replies to parse): the outbox id and job fields joined by '\n'
--   outbox id, type, core, entry, user, job channel, delivered (0/1), has message (0/1),
--   username, reply_to, message channel, files (JSON), origin channel key, origin message id,
--   thread root id, broadcast flag
-- and the message text ('' when the job carries no message). None of the joined values can hold a
-- newline (stream ids, validated user and channel names, platform ids; JSON escapes newlines).
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', ARGV[1], ARGV[5])
if not reply or #reply[1][2] == 0 then return {} end
local out = {redis.call('GET', ARGV[10]) or ''}
for _, e in ipairs(reply[1][2]) do
  local fields, job = e[2] or {}, {}
  for j = 1, #fields, 2 do job[fields[j]] = fields[j + 1] end
  local entry = job['entry'] or job['core'] or ''
  local done = redis.call('EXISTS', ARGV[6] .. entry .. ARGV[7])
  local has, body = 0, {}
  if (job['type'] == 'message' or job['type'] == 'edit') and job['core'] then
    body = redis.call('HMGET', ARGV[8] .. job['core'] .. ARGV[9], 'username', 'message', 'reply_to', 'channel',
      'files', 'origin_channel', 'origin_id', 'thread', 'broadcast')
    if body[1] then has = 1 end
  end
  table.insert(out, table.concat({
    e[1], job['type'] or '', job['core'] or '', entry, job['user'] or '', job['channel'] or '', done, has,
    body[1] or '', body[3] or '', body[4] or '', body[5] or '', body[6] or '', body[7] or '',
    body[8] or '', body[9] or ''}, '\n'))
  table.insert(out, body[2] or '')
end
return out
