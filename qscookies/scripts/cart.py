"""The cart's scripts: a line put, read or cleared, and a cart taken or merged
at sign-in; each one atomic step in Redis (see :mod:`qscookies.scripts`)."""

from __future__ import annotations

#: What :data:`CART_PUT` answers when the line would exceed the max quantity.
OVER_QUANTITY = -1
#: What :data:`CART_PUT` answers when the cart already holds the max lines.
OVER_LINES = -2
#: What :data:`CART_PUT` answers when the signed-in cookie's generation is not
#: the customer's (signed out everywhere since).
REVOKED = -3
#: What :data:`CART_PUT` answers when the cart would exceed the max items.
OVER_ITEMS = -4
#: What :data:`CART_PUT` answers when the line id holds other options (a
#: collision of the options' hash): refused, never merged into that line.
CLASH = -5

# The options of a line as its lines' hash holds them ('<sequence>:<canonical
# options>'): the head of CART_PUT and of the merges.
_OPTIONS = """
local function options_of(entry)
  return string.sub(entry, (string.find(entry, ':', 1, true) or #entry) + 1)
end
"""

# The write markers of a cart (a hash: marker -> sequence, '#' -> last
# sequence): `ordered` lists a hash's markers oldest first, `trim` drops the
# oldest past the most kept, `carry` gives a cart the markers of another (at
# sign-in), each after those it holds, bounded. The head of CART_PUT, CART_TAKE,
# LOGIN and CART_MERGE.
_MARKERS = """
local function ordered(key)
  local fields, order = redis.call('HGETALL', key), {}
  for i = 1, #fields, 2 do
    if fields[i] ~= '#' then
      table.insert(order, {fields[i], tonumber(fields[i + 1])})
    end
  end
  table.sort(order, function(a, b) return a[2] < b[2] end)
  for i = 1, #order do order[i] = order[i][1] end
  return order
end
local function trim(key, most)
  local over = redis.call('HLEN', key) - tonumber(most) - 1
  if over > 0 then
    local order = ordered(key)
    for i = 1, over do redis.call('HDEL', key, order[i]) end
  end
end
local function carry(key, markers, most, ttl)
  if #markers == 0 then return end
  for _, marker in ipairs(markers) do
    if not redis.call('HGET', key, marker) then
      redis.call('HSET', key, marker, redis.call('HINCRBY', key, '#', 1))
    end
  end
  redis.call('PEXPIRE', key, ttl)
  trim(key, most)
end
"""

#: The helper functions of these scripts, each closed (it reads no ``KEYS`` and
#: no ``ARGV``): a function library defines them once, at its top.
HELPERS = (_MARKERS, _OPTIONS)

# KEYS[1] cart (line id -> quantity), KEYS[2] its lines (a hash in the cart's slot: line
# id -> '<sequence>:<canonical options>', '' -> last sequence), then (with a write id)
# KEYS[3] the cart's write markers (keyed hash of line id and write id -> sequence, '#'
# -> last sequence), last (signed in) the customer's generation; ARGV line id, quantity,
# mode ("add"|"set", or "edit": set a line that is there, never start one), max
# quantity, max lines, max items (0: no bound), ttl ms, then the canonical options, the
# marker and the most markers kept ('', '' and 0: none), then (signed in) the cookie's
# generation. Answers the new quantity (0 for an "edit" of a line not there), or
# OVER_QUANTITY / OVER_LINES / OVER_ITEMS / CLASH / REVOKED (nothing changed). A write
# whose marker is already set (a re-sent write) changes nothing and answers the line's
# quantity; a refused one sets none. Past the most markers, the oldest is dropped, so
# the hash stays bounded; the lines' hash holds one entry per line.
CART_PUT = (
    _MARKERS
    + _OPTIONS
    + """
local line, marker = ARGV[1], ARGV[9] ~= '' and ARGV[9]
if ARGV[11] and (redis.call('HGET', KEYS[#KEYS], 'g') or '0') ~= ARGV[11] then
  return -3
end
local current = tonumber(redis.call('HGET', KEYS[1], line) or '0')
if marker then
  if redis.call('HGET', KEYS[3], marker) then return current end
  redis.call('HSET', KEYS[3], marker, redis.call('HINCRBY', KEYS[3], '#', 1))
  redis.call('PEXPIRE', KEYS[3], ARGV[7])
  trim(KEYS[3], ARGV[10])
end
local function refuse(code)
  if marker then redis.call('HDEL', KEYS[3], marker) end
  return code
end
local options = ARGV[8] or ''
-- a line without options is its sku, never the id of one with options
local known = current > 0 and options ~= '' and redis.call('HGET', KEYS[2], line)
if known and options_of(known) ~= options then return refuse(-5) end
local quantity = tonumber(ARGV[2])
if ARGV[3] == 'add' then quantity = current + quantity end
if ARGV[3] == 'edit' and current == 0 then return 0 end
if quantity > tonumber(ARGV[4]) then return refuse(-1) end
if quantity <= 0 then
  redis.call('HDEL', KEYS[1], line)
  redis.call('HDEL', KEYS[2], line)
  if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
  return 0
end
if current == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then
  return refuse(-2)
end
if quantity > current and ARGV[6] ~= '0' then
  local total = quantity - current
  for _, n in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(n) end
  if total > tonumber(ARGV[6]) then return refuse(-4) end
end
redis.call('HSET', KEYS[1], line, quantity)
if current == 0 then
  local sequence = redis.call('HINCRBY', KEYS[2], '', 1)
  redis.call('HSET', KEYS[2], line, sequence .. ':' .. options)
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return quantity
"""
)

# KEYS[1] a cart, KEYS[2] its lines. A cart's lines in one atomic read: both
# hashes (flat pairs each).
CART_LINES = """
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

# KEYS[1] a customer's cart, KEYS[2] its lines, KEYS[3] its generation; ARGV
# the cookie's generation. Empties the cart (DEL of both), or answers REVOKED
# (nothing changed).
CART_CLEAR = """
if (redis.call('HGET', KEYS[3], 'g') or '0') ~= ARGV[1] then return -3 end
return redis.call('DEL', KEYS[1], KEYS[2])
"""


# The merge of lines into a customer's cart, by policy: the tail of LOGIN and
# CART_MERGE, which set `lines` (flat line id, quantity, canonical options
# triples, in the order first added), `cart` (the customer's cart key),
# `details` (its lines' key), `markers` (the anonymous cart's write markers,
# oldest first) and `writes` (the customer's cart's markers key) first. ARGV
# policy ("add"|"replace"|"keep"), max quantity, max lines, ttl ms, most
# markers kept, max items (0: no bound). "add" sums quantities by line (the same sku and
# options: the same line id; capped at the max quantity and the max items; a
# new line past the max lines is left out, and so is one whose id holds other
# options), "replace" empties the cart first when there are lines, "keep"
# merges nothing. Whatever the policy, the markers are carried (a write
# re-sent after the sign-in was applied once already), bounded. Renews the TTL
# of the cart, its lines and the customer's generation (the last key), and
# answers the generation, then the cart's quantities (flat pairs).
_MERGE = """
local most, width, room = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[6])
if ARGV[1] == 'replace' and #lines > 0 then redis.call('DEL', cart, details) end
if ARGV[1] ~= 'keep' then
  local total = 0
  if room == 0 then room = math.huge else
    for _, n in ipairs(redis.call('HVALS', cart)) do total = total + tonumber(n) end
  end
  for i = 1, #lines, 3 do
    local line, quantity, options = lines[i], tonumber(lines[i + 1]), lines[i + 2]
    local current = tonumber(redis.call('HGET', cart, line) or '0')
    local known = current > 0 and redis.call('HGET', details, line)
    local added = math.min(quantity, most - current, room - total)
    if added > 0 and not (known and options_of(known) ~= options)
      and (current > 0 or redis.call('HLEN', cart) < width) then
      redis.call('HSET', cart, line, current + added)
      total = total + added
      if current == 0 then
        local sequence = redis.call('HINCRBY', details, '', 1)
        redis.call('HSET', details, line, sequence .. ':' .. options)
      end
    end
  end
end
carry(writes, markers, ARGV[5], ARGV[4])
redis.call('PEXPIRE', cart, ARGV[4])
redis.call('PEXPIRE', details, ARGV[4])
redis.call('PEXPIRE', KEYS[#KEYS], ARGV[4])
local reply = redis.call('HGETALL', cart)
table.insert(reply, 1, redis.call('HGET', KEYS[#KEYS], 'g') or '0')
return reply
"""

# Taking the lines and write markers of a cart (KEYS[1] its quantities,
# KEYS[2] its lines, KEYS[3] its markers): read and delete them in one atomic
# step, the lines as triples (line id, quantity, canonical options) in the
# order first added (those stored by an earlier version, without a sequence,
# last). An add before it is in the lines taken; an add after it starts the
# cart afresh.
_TAKE = (
    _MARKERS
    + _OPTIONS
    + """
local fields, known = redis.call('HGETALL', KEYS[1]), {}
local stored = redis.call('HGETALL', KEYS[2])
for i = 1, #stored, 2 do known[stored[i]] = stored[i + 1] end
local order = {}
for i = 1, #fields, 2 do
  local entry = known[fields[i]] or ''
  local sequence = tonumber(string.match(entry, '^(%d+):')) or math.huge
  table.insert(order, {sequence, fields[i], fields[i + 1], options_of(entry)})
end
table.sort(order, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local lines, markers = {}, ordered(KEYS[3])
for _, line in ipairs(order) do
  for j = 2, 4 do table.insert(lines, line[j]) end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
"""
)

# KEYS[1] the anonymous cart, KEYS[2] its lines, KEYS[3] its write markers,
# KEYS[4] the customer's cart, KEYS[5] its lines, KEYS[6] its write markers,
# KEYS[7] the customer's generation (a single Redis: the two slots are on one
# server); ARGV as _MERGE. Sign-in in one atomic step: takes the anonymous
# lines and markers, merges them, answers the generation and the customer's
# quantities.
LOGIN = _TAKE + "local cart, details, writes = KEYS[4], KEYS[5], KEYS[6]\n" + _MERGE

# KEYS[1] a cart, KEYS[2] its lines, KEYS[3] its write markers. Redis Cluster,
# step 1 of a sign-in: takes the anonymous lines and markers (answers both:
# flat triples, and the markers oldest first).
CART_TAKE = _TAKE + "return {lines, markers}\n"

# KEYS[1] the customer's cart, KEYS[2] its lines, KEYS[3] its write markers,
# KEYS[4] its generation; ARGV as _MERGE, then the number of values of the
# lines taken, the lines taken (flat triples) and the markers taken. Redis
# Cluster, step 2 of a sign-in (or the only step without an anonymous cart:
# renews the TTL, answers the quantities).
CART_MERGE = (
    _MARKERS
    + _OPTIONS
    + """
local count = tonumber(ARGV[7])
local lines, markers = {unpack(ARGV, 8, 7 + count)}, {unpack(ARGV, 8 + count)}
local cart, details, writes = KEYS[1], KEYS[2], KEYS[3]
"""
    + _MERGE
)
