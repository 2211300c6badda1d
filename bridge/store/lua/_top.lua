-- Top posters, maintained: `cb:top` (username -> messages in Redis, every channel) and `cb:top:<c>`
-- (the same for one channel), changed by exactly the scripts that add or remove a message hash
-- (post, delete, move_user; reindex rebuilds them), so `top` is one ZREVRANGE instead of an
-- FT.AGGREGATE over every message. A count that reaches 0 is removed (no zero rows in `top`).
local function count_post(channel, username, delta)
  for _, key in ipairs({'cb:top', 'cb:top:' .. channel}) do
    if tonumber(redis.call('ZINCRBY', key, delta, username)) <= 0 then redis.call('ZREM', key, username) end
  end
end
