-- Post one message (post_message in _post.lua). ARGV[1]: its POST_ARGS fields joined by NUL.
local A, err = post_fields(ARGV[1], 1)
if not A then return err end
local batch = new_batch()
local reply = post_one(A, batch)
flush_batch(batch)
return reply
