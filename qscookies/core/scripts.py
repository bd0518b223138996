"""The Lua scripts of the request rules: each one atomic step in Redis.

Each script touches only the keys it is given (``KEYS``), so Redis Cluster runs
it on the slot of those keys; Redis checks the commands it calls against the
connection's ACL user too (:data:`SCRIPT_COMMANDS`).
"""

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
local known = current > 0 and redis.call('HGET', KEYS[2], line)
if known and options ~= '' and options_of(known) ~= options then return refuse(-5) end
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

# Setting an order's marker (KEYS[1]) for ARGV[1] s, or answering 0 when it is
# set: the head of PURCHASE and ORDER_MARK.
_MARK = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
"""

# Moving a code's day counters (`key`) by the (field, increment) pairs of ARGV
# from `from` on, renewing their TTL (ARGV[2] s): in PURCHASE and PAID.
_COUNT = """
local function count(key, from)
  for i = from, #ARGV, 2 do redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1]) end
  redis.call('EXPIRE', key, ARGV[2])
end
"""

# Taking paid `lines` (flat line id, quantity pairs) away from a cart (keys
# cart, its lines, its write markers): each line loses the quantity paid for
# (a line at 0 or less goes, with its options), so what was added meanwhile
# stays; the lines' hash and the write markers go with the last line. In PAID
# and CART_PAY.
_PAY = """
local function pay(cart, details, writes, lines)
  for i = 1, #lines, 2 do
    if redis.call('HINCRBY', cart, lines[i], -tonumber(lines[i + 1])) <= 0 then
      redis.call('HDEL', cart, lines[i])
      redis.call('HDEL', details, lines[i])
    end
  end
  if redis.call('HLEN', cart) == 0 then redis.call('DEL', details, writes) end
end
"""

# KEYS[1] the order's marker, KEYS[2] the attributed code's day counters (two
# slots: a single Redis or Sentinel only); ARGV marker ttl s, counters ttl s,
# then (field, increment) pairs. Counts a purchase once per order, whatever
# code it is credited to: moves the fields (purchases and revenue, overall and
# of the pair); answers 1 if counted.
PURCHASE = _MARK + _COUNT + "count(KEYS[2], 3)\nreturn 1\n"

# KEYS[1] the order's marker, KEYS[2] the paid cart, KEYS[3] its lines,
# KEYS[4] its write markers, then (attributed) the code's day counters: a
# single Redis or Sentinel only; ARGV marker ttl s, counters ttl s, the
# number of values of the paid lines, the paid lines (flat pairs), then
# (field, increment) pairs. A purchase paid with a checkout's token, once per
# order: takes the paid lines away (_PAY) and moves the fields; answers 1 if
# counted.
PAID = (
    _MARK
    + _COUNT
    + _PAY
    + """
local paid = tonumber(ARGV[3])
pay(KEYS[2], KEYS[3], KEYS[4], {unpack(ARGV, 4, 3 + paid)})
if #KEYS == 5 then count(KEYS[5], 4 + paid) end
return 1
"""
)

# KEYS[1] the paid cart, KEYS[2] its lines, KEYS[3] its write markers; ARGV
# the paid lines (flat pairs). Redis Cluster, step 2 of a paid purchase, once
# ORDER_MARK set the order's marker: takes the paid lines away.
CART_PAY = _PAY + "pay(KEYS[1], KEYS[2], KEYS[3], ARGV)\nreturn 1\n"

# KEYS[1] the order's marker; ARGV its ttl s. Redis Cluster, step 1 of a
# purchase (the counters live in another slot): answers 1 if the marker was
# set, and the counts follow.
ORDER_MARK = _MARK + "return 1\n"

# The number of codes a day's index (KEYS[1]) admitted: its members but 'other'.
# The head of LANDING and ADMIT.
_ADMITTED = """
local function admitted()
  local count = redis.call('ZCARD', KEYS[1])
  if redis.call('ZSCORE', KEYS[1], 'other') then count = count - 1 end
  return count
end
"""

# KEYS[1] the day's index, KEYS[2] the day's pair index (the same slot); then
# (optional) the code's counters, visitors, returning visitors, the pair's
# visitors and returning visitors, the 'other/other' pair's two, and the same
# seven of the code 'other'. ARGV code, codes a landing may admit that day (0:
# no bound), visitor hash ('': count the landing only, no sketch), ttl s, "1"
# if the visitor is returning, pair, pairs of a code a landing may admit that
# day. Admits the code to the day's index while landings have room (else
# counts 'other'), and its pair to the pair index while the code has room
# (else 'other/other'); given the other keys, counts the landing there.
# Answers {code, pair} counted. Given the two indexes alone (Redis Cluster,
# where the code's keys live in another slot), it only admits; the landing is
# counted next. The room of landings is less than the day's bounds: the rest
# is kept for ADMIT.
LANDING = (
    _ADMITTED
    + """
local code, base = ARGV[1], 3
local bound = tonumber(ARGV[2])
if bound > 0 and not redis.call('ZSCORE', KEYS[1], code) and admitted() >= bound then
  code, base = 'other', 10
end
redis.call('ZINCRBY', KEYS[1], 1, code)
redis.call('EXPIRE', KEYS[1], ARGV[4])
local pair, shift = ARGV[6], 0
if not redis.call('HGET', KEYS[2], code .. '@' .. pair) then
  if tonumber(redis.call('HGET', KEYS[2], code) or '0') >= tonumber(ARGV[7]) then
    pair, shift = 'other/other', 2
  else
    redis.call('HINCRBY', KEYS[2], code, 1)
  end
end
redis.call('HINCRBY', KEYS[2], code .. '@' .. pair, 1)
redis.call('EXPIRE', KEYS[2], ARGV[4])
if #KEYS == 2 then return {code, pair} end
redis.call('HINCRBY', KEYS[base], 'landings', 1)
redis.call('HINCRBY', KEYS[base], 'landings@' .. pair, 1)
redis.call('EXPIRE', KEYS[base], ARGV[4])
if ARGV[3] == '' then return {code, pair} end
for offset = 1, (ARGV[5] == '1') and 2 or 1 do
  for _, key in ipairs({KEYS[base + offset], KEYS[base + 2 + shift + offset]}) do
    redis.call('PFADD', key, ARGV[3])
    redis.call('EXPIRE', key, ARGV[4])
  end
end
return {code, pair}
"""
)

# KEYS[1] the day's index, KEYS[2] the day's pair index (the same slot); ARGV
# code, max codes that day (0: no bound), pair, max pairs of a code that day,
# ttl s. Evidence for a landing counted under 'other' (or 'other/other'): a
# cart or a returning visit credited from its signed cookie. Admits the code
# (0 landings) to the day's index while the day has room, then its pair while
# the code has room, so that day's next landings of them count under their
# own names. Answers 1 if the pair is (now) admitted, else 0.
ADMIT = (
    _ADMITTED
    + """
local code, field = ARGV[1], ARGV[1] .. '@' .. ARGV[3]
local bound = tonumber(ARGV[2])
if bound > 0 and not redis.call('ZSCORE', KEYS[1], code) then
  if admitted() >= bound then return 0 end
  redis.call('ZINCRBY', KEYS[1], 0, code)
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
if redis.call('HGET', KEYS[2], field) then return 1 end
if tonumber(redis.call('HGET', KEYS[2], code) or '0') >= tonumber(ARGV[4]) then
  return 0
end
redis.call('HINCRBY', KEYS[2], code, 1)
redis.call('HINCRBY', KEYS[2], field, 0)
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
"""
)

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

#: The commands the scripts call (the app user's ACL must allow them).
SCRIPT_COMMANDS = frozenset(
    {
        "DEL",
        "EXPIRE",
        "HDEL",
        "HGET",
        "HGETALL",
        "HINCRBY",
        "HLEN",
        "HSET",
        "HVALS",
        "PEXPIRE",
        "PFADD",
        "SET",
        "ZCARD",
        "ZINCRBY",
        "ZSCORE",
    }
)
