-- The count of message documents in idx:messages that have `ts` (cb:meta `docs`, see
-- bridge/store/missing_ts.py): kept by exactly the scripts that add or remove a message hash with
-- `ts` (post, post_many, delete, archive), and only once it exists (ts_rebase.lua sets it after a
-- pass that found no ts-less document): before that it is unknown, never a guess.
local function count_docs(delta)
  if delta ~= 0 and redis.call('HEXISTS', 'cb:meta', 'docs') == 1 then
    redis.call('HINCRBY', 'cb:meta', 'docs', delta)
  end
end
