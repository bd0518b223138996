"""The scripts that count: a purchase once per order (and the paid lines taken
away), a landing admitted within the campaign bounds; each one atomic step in
Redis (see :mod:`qscookies.scripts`)."""

from __future__ import annotations

# Setting an order's marker (KEYS[1]) for ARGV[1] s, or answering 0 when it is
# set: the head of PURCHASE and ORDER_MARK.
_MARK = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
"""

# Moving a code's day counters (`key`) by the (field, increment) pairs of `args`
# (the script's ARGV) from `from` on, renewing their TTL (args[2] s): in
# PURCHASE and PAID.
_COUNT = """
local function count(key, args, from)
  for i = from, #args, 2 do redis.call('HINCRBY', key, args[i], args[i + 1]) end
  redis.call('EXPIRE', key, args[2])
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
PURCHASE = _MARK + _COUNT + "count(KEYS[2], ARGV, 3)\nreturn 1\n"

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
if #KEYS == 5 then count(KEYS[5], ARGV, 4 + paid) end
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

# The number of codes a day's index (`index`) admitted: its members but 'other'.
# The head of LANDING and ADMIT.
_ADMITTED = """
local function admitted(index)
  local count = redis.call('ZCARD', index)
  if redis.call('ZSCORE', index, 'other') then count = count - 1 end
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
local code, base, index = ARGV[1], 3, KEYS[1]
local bound = tonumber(ARGV[2])
if bound > 0 and not redis.call('ZSCORE', index, code) and admitted(index) >= bound then
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
  if admitted(KEYS[1]) >= bound then return 0 end
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

#: The helper functions of these scripts, each closed (it reads no ``KEYS``
#: and no ``ARGV``): a function library defines them once, at its top.
HELPERS = (_COUNT, _PAY, _ADMITTED)
