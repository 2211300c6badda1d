-- Mirroring worker, delivery stage: read the next jobs of an outbox for this consumer and, in the
-- same round trip, what delivering them needs: whether each was already delivered (idempotency
-- record) and the fields of the message it carries.
-- ARGV: 1 outbox key, 2 group, 3 consumer, 4 count, 5 start ('0' = this consumer's pending, '>' = new),
--       6/7 idempotency key = ARGV[6] .. entry .. ARGV[7], 8/9 message key = ARGV[8] .. core .. ARGV[9]
-- Returns one {outbox id, job fields (flat), delivered 0/1, {username, message, reply_to, channel}}
-- per job ({} for jobs that carry no message).
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', ARGV[1], ARGV[5])
if not reply then return {} end
local out = {}
for _, e in ipairs(reply[1][2]) do
  local fields, job = e[2] or {}, {}
  for j = 1, #fields, 2 do job[fields[j]] = fields[j + 1] end
  local entry = job['entry'] or job['core'] or ''
  local done = redis.call('EXISTS', ARGV[6] .. entry .. ARGV[7])
  local body = {}
  if (job['type'] == 'message' or job['type'] == 'edit') and job['core'] then
    body = redis.call('HMGET', ARGV[8] .. job['core'] .. ARGV[9], 'username', 'message', 'reply_to', 'channel')
  end
  table.insert(out, {e[1], fields, done, body})
end
return out
