-- The bulk path: post a batch of messages in one call (one round trip, one script run), each exactly
-- as post.lua would (post_message in _post.lua), in order. ARGV: one argument per message, its
-- POST_ARGS fields joined by NUL (post_fields). Returns status, value for each message, flattened.
-- A message that fails a check (no channel, no user, duplicate) writes nothing and the batch goes on;
-- one that hits a Redis error gets {'error', text} (post_one) and the batch goes on too.
local out = {}
local batch = new_batch()
for n = 1, #ARGV do
  local A, err = post_fields(ARGV[n], n)
  local r = A and post_one(A, batch) or {'error', err.err}
  out[#out + 1] = r[1]; out[#out + 1] = r[2]
end
flush_batch(batch)
return out
