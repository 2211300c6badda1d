-- A user hash's fields in the order of the guide's HGETALL output and its loader (sample_data/
-- users.json): firstname, lastname, city, country, username, then everything else as given.
-- Clients such as the loader read fields by position (small hashes keep their insertion order).
-- pairs: a flat list field, value, field, value… (later values of a field win).
local GUIDE_USER_ORDER = {'firstname', 'lastname', 'city', 'country', 'username'}

local function user_fields(pairs)
  local value, seen, rest = {}, {}, {}
  for i = 1, #pairs, 2 do
    if value[pairs[i]] == nil then table.insert(rest, pairs[i]) end
    value[pairs[i]] = pairs[i + 1]
  end
  local out = {}
  for _, f in ipairs(GUIDE_USER_ORDER) do
    if value[f] ~= nil then
      table.insert(out, f); table.insert(out, value[f]); seen[f] = true
    end
  end
  for _, f in ipairs(rest) do
    if not seen[f] then table.insert(out, f); table.insert(out, value[f]) end
  end
  return out
end
