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

-- cb:posts:<user> is a stream whose entry ids are the message ids (see _post.lua); `from`'s entries
-- interleave with `to`'s, so `to`'s stream is rebuilt in id order (XADD needs increasing ids)
local moved = {}
for _, e in ipairs(redis.call('XRANGE', 'cb:posts:' .. from, '-', '+')) do
  local mkey = 'message:' .. e[1]
  if redis.call('EXISTS', mkey) == 1 then
    redis.call('HSET', mkey, 'username', to)
    if explicit then redis.call('FT.ADDHASH', 'idx:messages', mkey, '1.0', 'REPLACE') end
    table.insert(moved, e[1])
  end
end
if #moved > 0 then
  local function id_less(a, b)
    local am, as = string.match(a, '^(%d+)-(%d+)$')
    local bm, bs = string.match(b, '^(%d+)-(%d+)$')
    am, bm = tonumber(am), tonumber(bm)
    if am ~= bm then return am < bm end
    return tonumber(as) < tonumber(bs)
  end
  local all = moved
  for _, e in ipairs(redis.call('XRANGE', 'cb:posts:' .. to, '-', '+')) do table.insert(all, e[1]) end
  table.sort(all, id_less)
  redis.call('DEL', 'cb:posts:' .. to)
  for _, id in ipairs(all) do redis.call('XADD', 'cb:posts:' .. to, id, 'm', '') end
end
redis.call('DEL', 'cb:posts:' .. from)

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
