-- The bulk path: post a batch of messages in one call (one round trip, one script run), each exactly
-- as post.lua would (post_message in _post.lua), in order. ARGV: the POST_ARGS arguments of each message,
-- one message after the other. Returns status, value for each message, flattened. A message that
-- fails a check (no channel, no user, duplicate) writes nothing and the batch goes on.
if #ARGV % POST_ARGS ~= 0 then return redis.error_reply('post_many: arguments are not whole posts') end
local out = {}
for base = 0, #ARGV - 1, POST_ARGS do
  local A = {}
  for i = 1, POST_ARGS do A[i] = ARGV[base + i] end
  local r = post_message(A)
  out[#out + 1] = r[1]; out[#out + 1] = r[2]
end
return out
