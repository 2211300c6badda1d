-- How long the platform id maps live (issue 15: id maps with a bounded lifetime that cannot cause a
-- duplicate). cb:pmsg:<platform>:<workspace>:<channel>:<platform id> -> core id (keys.platform_message)
-- and cb:mirror:<core id> (keys.mirror_map) live as long as the message they name is in Redis: the
-- origin's key goes when the message is deleted (delete.lua; its copies' keys go when the delete
-- reaches each copy, mirror_commit.lua) or archived (archive.lua, with every copy's key and the map).
--
-- Why this cannot let a duplicate in: the one check that refuses a second copy of a platform message
-- by its id (post_message in _post.lua: a backfill repeated, history re-read) refuses it only while
-- `message:<core id>` exists, so a key naming a message that is gone never refused anything: a repeat
-- after the message left Redis was recorded before this change too. Live repeats (Slack retries,
-- Discord RESUME replays) are refused by the event key (cb:seen, 7 days) whatever happens here. A
-- thread root keeps its keys while its thread exists (cb:thread:<id>: a deleted or archived root
-- keeps its thread, and the platform's replies in it must still find it instead of starting another).
-- What the platform does later with a message that left Redis finds no core message, as before: an
-- edit or delete changes nothing, and a reply to it crosses as a plain message.
-- Call before the hash is removed (FT.DEL ... DD removes it too). Returns how many keys went.
local function forget_ids(id, key, copies)
  if redis.call('EXISTS', 'cb:thread:' .. id) == 1 then return 0 end
  local gone = 0
  local function drop(pkey)
    if redis.call('GET', pkey) == id then
      redis.call('DEL', pkey); gone = gone + 1
    end
  end
  local origin = redis.call('HMGET', key, 'origin_channel', 'origin_id')
  if origin[1] and origin[2] and origin[2] ~= '' then drop('cb:pmsg:' .. origin[1] .. ':' .. origin[2]) end
  if copies then
    local map = redis.call('HGETALL', 'cb:mirror:' .. id)
    for i = 1, #map, 2 do
      local ok, ids = pcall(cjson.decode, map[i + 1])
      if ok and type(ids) == 'table' then
        for _, pid in ipairs(ids) do drop('cb:pmsg:' .. map[i] .. ':' .. tostring(pid)) end
      end
    end
    redis.call('DEL', 'cb:mirror:' .. id)
  end
  return gone
end
