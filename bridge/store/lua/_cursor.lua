-- A cursor: where an adapter keeps the newest platform id it took in for a place (its catch-up's
-- anchor: cb:sseen:<team> for Slack, cb:dseen:<guild> for Discord), as hash key, field, value. The
-- value is a non-negative decimal number written as a string of any length: a Slack ts
-- ("1700000000.000100") or a Discord snowflake (up to 20 digits: beyond what a Lua double holds
-- exactly), so values are compared as decimal strings, never as Lua numbers. A cursor only moves
-- forward: events taken in concurrently, a redelivery or a replayed older message never move it back.

-- the integer part without leading zeros and the fraction without trailing zeros; nil if not a number
local function decimal_parts(s)
  local int, frac = string.match(s, '^(%d+)%.?(%d*)$')
  if not int then return nil end
  int = string.gsub(int, '^0+', '')
  frac = string.gsub(frac, '0+$', '')
  return int, frac
end

local function decimal_greater(a_int, a_frac, b_int, b_frac)
  if #a_int ~= #b_int then return #a_int > #b_int end
  if a_int ~= b_int then return a_int > b_int end
  return a_frac > b_frac  -- same integer part: digit strings without trailing zeros compare as text
end

-- Write the cursor if its value is greater than the one there (or none is). A value that is not a
-- decimal number is not written (the caller validated it; this keeps a bad one out of the hash). A
-- field holding something else than a number (written by hand) is replaced.
local function note_cursor(key, field, value)
  if key == '' or field == '' then return end
  local v_int, v_frac = decimal_parts(value)
  if not v_int then return end
  local current = redis.call('HGET', key, field)
  if current then
    local c_int, c_frac = decimal_parts(current)
    if c_int and not decimal_greater(v_int, v_frac, c_int, c_frac) then return end
  end
  redis.call('HSET', key, field, value)
end
