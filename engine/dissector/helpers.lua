-- The Info column's values of the message being decoded, by field name.
local info = {}

-- True when size bytes at off fit before limit; else reports why as expert info.
local function need(tree, what, off, size, limit)
  if size < 0 then
    tree:add_proto_expert_info(E.bad_length, what .. ": impossible length " .. tostring(size))
    return false
  end
  if off + size > limit then
    tree:add_proto_expert_info(E.truncated, what .. ": needs " .. tostring(size) .. " bytes, " .. tostring(limit - off) .. " left")
    return false
  end
  return true
end

-- The bits of value selected by mask, shifted down (unsigned, via the bit library).
local function masked(value, mask, shift)
  local bits = bit.rshift(bit.band(value, mask), shift)
  if bits < 0 then
    bits = bits + 4294967296
  end
  return bits
end

-- The name of an enum value, or the number when the enum does not know it.
local function enum_text(names, value)
  return names[value] or ("Unknown (" .. tostring(value) .. ")")
end

-- Text up to the first NUL (fixed-size strings are often padded with NULs).
local function cut_nul(text)
  local nul = string.find(text, "\000", 1, true)
  if nul then
    return string.sub(text, 1, nul - 1)
  end
  return text
end

-- Bytes as hex for the Info column, at most 16 of them.
local function hex_text(tvb, off, size)
  if size > 16 then
    return tostring(tvb(off, 16):bytes()) .. "..."
  end
  if size == 0 then
    return ""
  end
  return tostring(tvb(off, size):bytes())
end

