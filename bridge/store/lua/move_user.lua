-- Move everything of user `from` to user `to`: used when an auto-created platform user registers a
-- name (rename: `to` is created from `from`'s profile) and when link-account merges an auto user
-- into an existing one (merge). Messages keep their history under the new name and stay searchable.
-- ARGV: 1 from, 2 to, 3 mode ('rename' | 'merge'), 4 index mode (1 = 1.x explicit indexing),
--       5.. field/value pairs to set on `to` (rename only)
local from, to, mode, explicit = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
if redis.call('SISMEMBER', 'usernames', from) == 0 then return {'no_user', from} end
local exists = redis.call('SISMEMBER', 'usernames', to) == 1
if mode == 'rename' and exists then return {'taken', to} end
if mode == 'merge' and not exists then return {'no_user', to} end
if explicit and (redis.call('EXISTS', 'idx:idx:messages') == 0 or redis.call('EXISTS', 'idx:idx:users') == 0) then
  return {'no_index', 'idx:messages'}
end

-- `from`'s messages are found by the index, as the guide's `@username:{name}` search finds them
-- (username is a TAG field in chatbridge's schema and in the guide's): no per-user record to keep
-- on every post (schema 3 dropped cb:posts:<user>, ~27 B a message and one XADD a post).
-- Why no message of `from` is missed, a concurrent post included: this script is atomic, so no post
-- runs between its first search and its last write; a post that ran before it has its hash written
-- and indexed (1.x: FT.ADDHASH in the same post script; 2.x: the module indexes the hash during
-- its HSET, synchronously, also inside a script), and one that runs after it finds `from` gone from
-- `usernames` and is refused ('no_user'). FT.SEARCH runs inside a script on 1.2 and 2.10 (as in
-- ts_rebase.lua) and sees this script's own writes the same way (1.x: we re-index each moved hash;
-- 2.x: the HSET does). Each page's hashes are checked before they change: a TAG matches
-- case-insensitively (`Ada` is found by {ada}) and whole values only (`ada` never finds `adalove`,
-- the tag is not a prefix or a stem), and on 1.x the index may hold a document whose hash another
-- tool deleted or rewrote; only a hash whose `username` is exactly `from` moves. A moved hash
-- leaves the result set, one that does not move is remembered and not counted again, so the loop
-- ends when a search returns nothing new: then every indexed message of `from` has moved.
local PAGE = 5000
local function escape_tag(value)  -- bridge.store.search.escape_tag: a backslash before ASCII punctuation
  return (string.gsub(value, '[%z\1-\47\58-\64\91-\96\123-\127]', '\\%0'))
end
local query = '@username:{' .. escape_tag(from) .. '}'
local function search(skipped)
  local res = redis.pcall('FT.SEARCH', 'idx:messages', query, 'NOCONTENT', 'LIMIT', 0, skipped + PAGE)
  if type(res) == 'table' and res.err then return nil, res.err end
  return res
end
-- 2.x builds an index made over existing hashes (a rebuild, one made by another tool) in the
-- background: until it is done a search misses messages, so the move waits for it, unchanged.
-- (FT.INFO is 0.3 ms on 2.10; 1.x indexes nothing by itself, so there is nothing to wait for.
-- `username` is a TAG on both: ensure_indexes rebuilds an index where it is not.)
if not explicit then
  local info = redis.call('FT.INFO', 'idx:messages')
  for i = 1, #info - 1, 2 do
    local name, value = info[i], info[i + 1]
    if type(name) == 'table' then name = name.ok end
    if name == 'indexing' and tostring(value) ~= '0' and tostring(value) ~= '0.0' then
      return {'indexing', 'idx:messages'}
    end
  end
end
-- (the first search runs before any write: a search that fails changes nothing)
local first, serr = search(0)
if not first then return {'search_error', serr} end

local fromkey, tokey = 'user:' .. from, 'user:' .. to
if mode == 'rename' then
  local profile = redis.call('HGETALL', fromkey)
  local fields = {}
  for i = 1, #profile, 2 do
    if profile[i] ~= 'auto' then
      table.insert(fields, profile[i]); table.insert(fields, profile[i + 1])
    end
  end
  for i = 5, #ARGV, 2 do
    table.insert(fields, ARGV[i]); table.insert(fields, ARGV[i + 1])
  end
  table.insert(fields, 'username'); table.insert(fields, to)
  redis.call('HSET', tokey, unpack(user_fields(fields)))
  redis.call('SADD', 'usernames', to)
end

local skip, skipped, moved = {}, 0, 0
local page = first
while true do
  local fresh = false
  for i = 2, #page do
    local mkey = page[i]
    if not skip[mkey] then
      fresh = true
      local owner = redis.call('HGET', mkey, 'username')
      if owner == from then
        redis.call('HSET', mkey, 'username', to)
        if explicit then redis.call('FT.ADDHASH', 'idx:messages', mkey, '1.0', 'REPLACE') end
        moved = moved + 1
      else
        skip[mkey] = true; skipped = skipped + 1
        -- (1.x: a document whose hash another tool deleted leaves the index)
        if explicit and not owner then redis.call('FT.DEL', 'idx:messages', mkey) end
      end
    end
  end
  if not fresh then break end
  local err
  page, err = search(skipped)
  if not page then return redis.error_reply('move_user: ' .. err) end
end

local ids = redis.call('HGETALL', 'cb:identities:' .. from)
for i = 1, #ids, 2 do
  redis.call('SET', 'cb:identity:' .. ids[i] .. ':' .. ids[i + 1], to)
  -- the target keeps its own account on a workspace; `from`'s still resolves to `to` via cb:identity
  redis.call('HSETNX', 'cb:identities:' .. to, ids[i], ids[i + 1])
end
redis.call('DEL', 'cb:identities:' .. from)

for _, suffix in ipairs({'cb:mentions:', 'cb:notify:'}) do
  local src = suffix .. from
  if redis.call('EXISTS', src) == 1 then
    local dst = suffix .. to
    if redis.call('TYPE', src).ok == 'zset' then
      redis.call('ZUNIONSTORE', dst, 2, dst, src, 'AGGREGATE', 'MAX')
    else
      redis.call('SUNIONSTORE', dst, dst, src)
    end
    redis.call('DEL', src)
  end
end
local subs = redis.call('SMEMBERS', 'cb:notify:' .. to)
for _, ch in ipairs(subs) do
  redis.call('SREM', 'cb:notify-subs:' .. ch, from)
  redis.call('SADD', 'cb:notify-subs:' .. ch, to)
end
local last = redis.call('ZSCORE', 'cb:active', from)
if last then
  redis.call('ZREM', 'cb:active', from)
  local cur = redis.call('ZSCORE', 'cb:active', to)
  if not cur or tonumber(cur) < tonumber(last) then redis.call('ZADD', 'cb:active', last, to) end
end
-- top-poster counts move with the messages (the target's own counts add up)
local function move_count(key)
  local n = redis.call('ZSCORE', key, from)
  if n then redis.call('ZREM', key, from); redis.call('ZINCRBY', key, n, to) end
end
move_count('cb:top')
local chans = redis.call('SMEMBERS', 'channels')
for _, ch in ipairs(chans) do
  move_count('cb:top:' .. ch)
  local akey = 'cb:active:' .. ch
  local s = redis.call('ZSCORE', akey, from)
  if s then redis.call('ZREM', akey, from); redis.call('ZADD', akey, 'GT', s, to) end
  if redis.call('SREM', 'cb:members:' .. ch, from) == 1 then redis.call('SADD', 'cb:members:' .. ch, to) end
end
if redis.call('EXISTS', 'cb:profile:' .. from) == 1 then
  redis.call('RENAMENX', 'cb:profile:' .. from, 'cb:profile:' .. to)  -- the target's own display wins
  redis.call('DEL', 'cb:profile:' .. from)
end

if explicit then redis.call('FT.DEL', 'idx:users', fromkey, 'DD') end
redis.call('DEL', fromkey)
redis.call('SREM', 'usernames', from)
redis.call('SREM', 'cb:admins', from)
if explicit then redis.call('FT.ADDHASH', 'idx:users', tokey, '1.0', 'REPLACE') end
return {'ok', to}
