"""The only module that talks to Redis.

It owns the key schema, the Lua scripts, the batching of commands into one round
trip, the command allow-list and the mapping of connection faults to
:class:`~qscookies.errors.StoreUnavailable`. Business modules say *what* to store by
calling the methods of :class:`Store`; every public method is one round trip.

Key schema (``qs:`` is the configurable prefix; ``{…}`` is the cluster hash tag, so
the keys of one visitor, one cart or one promotion share a slot)::

    qs:v:{<visitor id>}             hash  first_seen, visits, last_visit  (TTL)
    qs:c:{<cart id>}                hash  sku -> quantity                  (TTL)
    qs:a:{<code>}:d:<YYYYMMDD>      hash  landings, carts, purchases, revenue_cents
    qs:a:{<code>}:u:<YYYYMMDD>      HyperLogLog of keyed visitor hashes (visitors)
    qs:a:{<code>}:r:<YYYYMMDD>      HyperLogLog of keyed visitor hashes (returning)
    qs:a:promotions                 sorted set  code -> last day seen (YYYYMMDD)
    qs:o:{<code>}:<order hash>      marker that makes a purchase count once (TTL)

Aggregate keys (``qs:a:``) hold counters and sketches only, never an id.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import NoPermissionError
from redis.retry import Retry

from .errors import CommandRefused
from .errors import ConfigurationError
from .errors import StoreError
from .errors import StoreUnavailable

log = logging.getLogger("qscookies")

#: Every command the middleware sends. Anything else is refused before sending.
APP_COMMANDS = frozenset(
    {
        "DEL",
        "EVAL",
        "EVALSHA",
        "EXPIRE",
        "HDEL",
        "HGETALL",
        "HINCRBY",
        "HSET",
        "PEXPIRE",
        "PFADD",
        "ZADD",
    }
)

#: Every command the promotion report sends.
REPORT_COMMANDS = frozenset({"HGETALL", "PFCOUNT", "ZRANGE"})

#: The commands run inside the middleware's Lua scripts (``EVAL``); Redis checks
#: them against the connection's ACL user too.
SCRIPT_COMMANDS = frozenset(
    {"EXPIRE", "HDEL", "HGET", "HINCRBY", "HLEN", "HSET", "PEXPIRE", "SET"}
)

#: What :meth:`Store.probe` runs: permission questions only. The probed commands
#: themselves are at most queued inside ``MULTI``, never executed.
PROBE_COMMANDS = frozenset({"ACL", "DISCARD", "MULTI"})

#: Never queued by a probe: they would run or end the transaction.
_UNPROBEABLE = frozenset({"DISCARD", "EXEC", "MULTI", "QUIT", "RESET", "WATCH"})

#: Kinds of aggregate counter in the per-day hash.
COUNTERS = ("landings", "carts", "purchases", "revenue_cents")

#: Faults that mean "Redis is not there right now" rather than "we sent nonsense".
_UNAVAILABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
    OSError,
)

# KEYS[1] cart; ARGV sku, quantity, mode ("add"|"set"), max quantity, max lines,
# ttl ms. Returns the new quantity, -1 over the max quantity, -2 over max lines.
_CART_PUT = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local quantity = tonumber(ARGV[2])
if ARGV[3] == 'add' then quantity = current + quantity end
if quantity > tonumber(ARGV[4]) then return -1 end
if quantity <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
if current == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then
  return -2
end
redis.call('HSET', KEYS[1], ARGV[1], quantity)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return quantity
"""

# KEYS[1] order marker, KEYS[2] per-day counters; ARGV revenue, marker ttl s,
# counters ttl s. Counts a purchase once per order id; returns 1 if counted.
_PURCHASE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'purchases', 1)
redis.call('HINCRBY', KEYS[2], 'revenue_cents', ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""

#: How long an order id is remembered to keep a purchase from counting twice.
ORDER_MEMORY = 400 * 86400


def connect(url: str, *, socket_timeout: float, cluster: bool = False) -> Any:
    """Open a client for *url* that fails fast instead of hanging the shop.

    Connect and reply timeouts are *socket_timeout*; no retries (a retried
    ``HINCRBY`` could count twice).

    A connection opened (or reopened) while serving a request sends nothing
    before the request's own commands, except what *url* asks for (``AUTH``
    for a user or password, ``SELECT`` for a database other than 0): RESP2,
    so no ``HELLO`` and no ``CLIENT MAINT_NOTIFICATIONS`` (redis-py 8 speaks
    RESP3 by default), and no ``CLIENT SETINFO`` (which Redis before 7.2
    refuses, after a round trip each).

    :param cluster: a ``redis.RedisCluster`` that finds the other nodes from
        the one in *url*, instead of a single-server ``redis.Redis``.
    """
    options: dict[str, Any] = dict(
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        driver_info=None,
        protocol=2,
    )
    if cluster:
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)


def open_client(
    redis_url: str | None, redis: Any, *, socket_timeout: float
) -> tuple[Any, bool]:
    """The client for exactly one of *redis_url* and *redis*, and whether we own it.

    :raises ConfigurationError: both or neither given, or a malformed URL.
    """
    if (redis_url is None) == (redis is None):
        raise ConfigurationError("pass exactly one of redis_url= and redis=")
    if redis is not None:
        return redis, False
    try:
        return connect(str(redis_url), socket_timeout=socket_timeout), True
    except ValueError as error:
        raise ConfigurationError(f"bad Redis URL: {error}") from error


@dataclass
class Tracking:
    """The tracking writes of one request, sent together in one round trip.

    Built by the visitor and promotion logic; sent by :meth:`Store.track`.
    """

    #: Visitor id, visits, first seen, when a new visit starts.
    visit: tuple[str, int, int] | None = None
    #: Promotion code whose landing is counted.
    landing: str | None = None
    #: Promotion code for which this visitor counts as returning.
    returning: str | None = None
    #: Keyed hash of the visitor id, fed to the unique-visitor sketches.
    visitor_hash: str = ""
    #: Extra per-day counters to move, such as carts started.
    counters: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.visit or self.landing or self.returning or self.counters)


class Store:
    """Redis access for qscookies: key schema, scripts, batching, allow-list.

    :param client: a ``redis.Redis``, ``redis.RedisCluster`` or Sentinel-backed
        client. qscookies does not close a client it was given.
    :param prefix: prefix of every key.
    :param allowed: the commands this store may send; others raise
        :class:`~qscookies.errors.CommandRefused` without touching the socket.
    :param retry_interval: after a failed tracking write, seconds to skip
        tracking before trying Redis again (faults are logged once per interval).
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "qs:",
        allowed: frozenset[str] = APP_COMMANDS,
        retry_interval: float = 5.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.allowed = allowed
        self.retry_interval = retry_interval
        self._suspended_until = 0.0
        self._skipped = 0

    # -- keys ------

    def visitor_key(self, visitor_id: str) -> str:
        """Key of a visitor's record."""
        return f"{self.prefix}v:{{{visitor_id}}}"

    def cart_key(self, cart_id: str) -> str:
        """Key of a cart's lines."""
        return f"{self.prefix}c:{{{cart_id}}}"

    def aggregate_key(self, code: str, kind: str, day: str) -> str:
        """Key of one promotion's per-day aggregate: ``d``, ``u`` or ``r``."""
        return f"{self.prefix}a:{{{code}}}:{kind}:{day}"

    @property
    def index_key(self) -> str:
        """Key of the sorted set of known promotion codes."""
        return f"{self.prefix}a:promotions"

    def order_key(self, code: str, order_id: str) -> str:
        """Key of the marker that counts an order once (hash of the order id)."""
        digest = hashlib.sha256(order_id.encode()).hexdigest()[:32]
        return f"{self.prefix}o:{{{code}}}:{digest}"

    # -- the visitor's side -------------------------------------------------------

    def track(
        self, tracking: Tracking, *, now: int, visitor_ttl: int, aggregate_ttl: int
    ) -> bool:
        """Send one request's tracking writes in one round trip.

        Never raises: while Redis is unavailable the writes are skipped, counted
        and logged once per ``retry_interval``. Commands: ``HSET``, ``PEXPIRE`` on
        the visitor key; ``HINCRBY``, ``PFADD``, ``EXPIRE`` on aggregate keys;
        ``ZADD`` on the promotion index.

        :return: whether the writes were stored.
        """
        if time.monotonic() < self._suspended_until:
            self._skipped += 1
            return False
        day = utc_day(now)
        batch = self.batch()
        if tracking.visit:
            visitor_id, visits, first_seen = tracking.visit
            key = self.visitor_key(visitor_id)
            batch.add(
                "HSET",
                key,
                "first_seen",
                first_seen,
                "visits",
                visits,
                "last_visit",
                now,
            )
            batch.add("PEXPIRE", key, visitor_ttl * 1000)
        if tracking.landing:
            code = tracking.landing
            self._count(batch, code, day, "landings", 1, aggregate_ttl)
            self._sketch(batch, code, "u", day, tracking.visitor_hash, aggregate_ttl)
            batch.add("ZADD", self.index_key, "GT", int(day), code)
            batch.add("EXPIRE", self.index_key, aggregate_ttl)
        if tracking.returning:
            self._sketch(
                batch,
                tracking.returning,
                "r",
                day,
                tracking.visitor_hash,
                aggregate_ttl,
            )
        for counter, code in tracking.counters.items():
            self._count(batch, code, day, counter, 1, aggregate_ttl)
        try:
            batch.execute()
        except StoreError as error:
            self._suspend(error)
            return False
        self._resume()
        return True

    def _count(
        self, batch: Batch, code: str, day: str, counter: str, by: int, ttl: int
    ) -> None:
        key = self.aggregate_key(code, "d", day)
        batch.add("HINCRBY", key, counter, by)
        batch.add("EXPIRE", key, ttl)

    def _sketch(
        self, batch: Batch, code: str, kind: str, day: str, member: str, ttl: int
    ) -> None:
        key = self.aggregate_key(code, kind, day)
        batch.add("PFADD", key, member)
        batch.add("EXPIRE", key, ttl)

    def _suspend(self, error: StoreError) -> None:
        if not self._suspended_until:
            log.warning(
                "qscookies: Redis unavailable, tracking paused (%s)",
                type(error.original_error or error).__name__,
            )
        elif self._skipped:
            log.warning(
                "qscookies: Redis still unavailable; %d page views not tracked",
                self._skipped,
            )
            self._skipped = 0
        self._suspended_until = time.monotonic() + self.retry_interval

    def _resume(self) -> None:
        if self._suspended_until:
            log.warning(
                "qscookies: Redis back, tracking resumed; %d page views not tracked",
                self._skipped,
            )
            self._suspended_until = 0.0
            self._skipped = 0

    # -- carts ------

    def cart_items(self, cart_id: str) -> dict[str, int]:
        """Return a cart's lines (``HGETALL``)."""
        raw = self.call("HGETALL", self.cart_key(cart_id))
        return {_text(sku): int(quantity) for sku, quantity in raw.items()}

    def cart_put(
        self,
        cart_id: str,
        sku: str,
        quantity: int,
        *,
        add: bool,
        max_quantity: int,
        max_lines: int,
        ttl: int,
        counters: Mapping[str, str] = {},  # noqa: B006 - read only
        now: int = 0,
        aggregate_ttl: int = 0,
    ) -> int:
        """Add to or set one cart line atomically (a Lua script with ``EVAL``).

        :param counters: aggregate counters to move in the same round trip, such
            as ``{"carts": code}`` for a cart started under a promotion.
        :return: the line's new quantity, ``-1`` when it would exceed
            *max_quantity* (nothing changed), ``-2`` when the cart already holds
            *max_lines* other lines (nothing changed).
        """
        batch = self.batch()
        batch.add(
            "EVAL",
            _CART_PUT,
            1,
            self.cart_key(cart_id),
            sku,
            quantity,
            "add" if add else "set",
            max_quantity,
            max_lines,
            ttl * 1000,
        )
        for counter, code in counters.items():
            self._count(batch, code, utc_day(now), counter, 1, aggregate_ttl)
        return int(batch.execute()[0])

    def cart_remove(self, cart_id: str, sku: str) -> None:
        """Remove one cart line (``HDEL``)."""
        self.call("HDEL", self.cart_key(cart_id), sku)

    def delete(self, keys: Iterable[str]) -> None:
        """Delete keys (``DEL``), in one round trip per cluster slot."""
        batch = self.batch()
        for key in keys:
            batch.add("DEL", key)
        if batch:
            batch.execute()

    def record_purchase(
        self,
        *,
        order_id: str,
        code: str | None,
        revenue_cents: int,
        cart_id: str | None,
        now: int,
        aggregate_ttl: int,
    ) -> bool:
        """Count a purchase for *code* once per order id and delete the cart.

        One round trip: the purchase script (``SET NX``, ``HINCRBY``, ``EXPIRE``)
        and ``DEL`` of the cart.

        :return: whether this call counted the purchase.
        """
        batch = self.batch()
        if code:
            batch.add(
                "EVAL",
                _PURCHASE,
                2,
                self.order_key(code, order_id),
                self.aggregate_key(code, "d", utc_day(now)),
                revenue_cents,
                ORDER_MEMORY,
                aggregate_ttl,
            )
        if cart_id:
            batch.add("DEL", self.cart_key(cart_id))
        if not batch:
            return False
        results = batch.execute()
        return bool(code) and results[0] == 1

    # -- the report's side (aggregate keys only) ------

    @property
    def is_cluster(self) -> bool:
        """The client is a Redis Cluster: one command cannot span promotions."""
        return isinstance(self.client, redis.RedisCluster)

    def promotion_codes(self) -> list[str]:
        """Every code in the promotion index, sorted (``ZRANGE``, one round trip)."""
        codes = self.call("ZRANGE", self.index_key, 0, -1)
        return sorted(_text(code) for code in codes)

    def read_aggregates(
        self, spans: Sequence[tuple[str, Sequence[str]]]
    ) -> list[dict[str, int]]:
        """Read aggregate figures, all in one pipelined round trip.

        Each span is a promotion code and the days (``YYYYMMDD``) it covers. Its
        figures are the :data:`COUNTERS` summed over the days' hashes
        (``HGETALL``), and ``visitors`` and ``returning``: one ``PFCOUNT`` over
        all the span's sketches, so a visitor seen on several days counts once.
        The keys of one code share a hash tag, so this works on Redis Cluster.

        :param spans: ``(code, days)`` pairs, each with at least one day.
        :return: one figures dict per span, in order.
        """
        batch = self.batch()
        for code, days in spans:
            for day in days:
                batch.add("HGETALL", self.aggregate_key(code, "d", day))
            for kind in ("u", "r"):
                keys = [self.aggregate_key(code, kind, day) for day in days]
                batch.add("PFCOUNT", *keys)
        replies = iter(batch.execute() if batch else [])
        figures = []
        for _code, days in spans:
            sums = dict.fromkeys(COUNTERS, 0)
            for _day in days:
                for name, value in next(replies).items():
                    if _text(name) in sums:
                        sums[_text(name)] += int(value)
            sums["visitors"] = int(next(replies))
            sums["returning"] = int(next(replies))
            figures.append(sums)
        return figures

    def count_unique(
        self, spans: Sequence[tuple[str, Sequence[str]]]
    ) -> tuple[int, int] | None:
        """Unique ``(visitors, returning)`` over the sketches of every span.

        One round trip, one ``PFCOUNT`` for each. A visitor who landed on two
        promotions counts once. A cluster cannot do this (the codes live in
        different slots), so there nothing is sent and ``None`` returned.

        :param spans: ``(code, days)`` pairs, each with at least one day.
        """
        if self.is_cluster:
            return None
        if not spans:
            return (0, 0)
        batch = self.batch()
        for kind in ("u", "r"):
            batch.add(
                "PFCOUNT",
                *(
                    self.aggregate_key(code, kind, day)
                    for code, days in spans
                    for day in days
                ),
            )
        visitors, returning = batch.execute()
        return int(visitors), int(returning)

    # -- permission probes (qscookies check) ------

    def probe(
        self, commands: Sequence[Sequence[str]]
    ) -> tuple[str | None, str, list[bool | None]]:
        """Ask Redis which *commands* this connection's user may run, running none.

        Redis 7 answers ``ACL DRYRUN <user> <command>`` for a user allowed
        ``acl|whoami`` and ``acl|dryrun``. Otherwise (Redis 6.2, or no such
        rights) the commands are queued inside ``MULTI``: Redis checks the ACL
        when it queues a command, and the transaction is then dropped with
        ``DISCARD``. ``EXEC`` is never sent and the connection is closed after,
        so no probed command ever runs. The store must allow
        :data:`PROBE_COMMANDS`.

        :param commands: the commands with harmless arguments of valid arity.
        :return: the user's name (``None`` when it may not ``ACL WHOAMI``), how
            Redis was asked (``"ACL DRYRUN"``, ``"MULTI"``, or ``""`` when the
            user may do neither) and, per command, ``True`` (permitted),
            ``False`` (refused: ``NOPERM``) or ``None`` (Redis would not say).
        :raises StoreUnavailable: Redis could not be reached in time.
        """
        for command in commands:
            if command[0].upper() in _UNPROBEABLE:
                raise CommandRefused(command[0].upper())
        user = replies = None
        try:
            user = _text(self.call("ACL", "WHOAMI"))
            replies = self._dry_run(user, commands)
        except StoreUnavailable:
            raise
        except StoreError:
            pass  # no ACL rights: ask with MULTI
        if replies is not None:
            return user, "ACL DRYRUN", replies
        pool = getattr(self.client, "connection_pool", None)
        if pool is None:  # a cluster client: no single connection to queue on
            return user, "", [None] * len(commands)
        self.check("MULTI")
        self.check("DISCARD")
        try:
            return (user, *_queue_and_discard(pool, commands))
        except (redis.RedisError, OSError) as error:
            raise _translate(error) from error

    def _dry_run(
        self, user: str, commands: Sequence[Sequence[str]]
    ) -> list[bool | None] | None:
        self.check("ACL")
        try:
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command("ACL", "DRYRUN", user, *command)
            replies = pipe.execute(raise_on_error=False)
        except (redis.RedisError, OSError) as error:
            raise _translate(error) from error
        if any(isinstance(reply, NoPermissionError) for reply in replies):
            return None  # may not DRYRUN
        if replies and all(isinstance(reply, redis.ResponseError) for reply in replies):
            return None  # no DRYRUN on this server
        return [
            None if isinstance(reply, Exception) else _text(reply) == "OK"
            for reply in replies
        ]

    # -- sending ------

    def batch(self) -> Batch:
        """Start a batch of commands to send in one round trip."""
        return Batch(self)

    def call(self, *args: Any) -> Any:
        """Send one allowed command and return its reply."""
        self.check(args[0])
        try:
            return self.client.execute_command(*args)
        except (redis.RedisError, OSError) as error:
            raise _translate(error) from error

    def check(self, command: str) -> None:
        """Refuse a command outside the allow-list, before anything is sent.

        :raises CommandRefused: *command* is not in :attr:`allowed`.
        """
        if command.upper() not in self.allowed:
            raise CommandRefused(command.upper())


class Batch:
    """Commands collected to be sent together: one round trip on one Redis.

    Not a transaction (a cluster cannot run one across slots); the atomic steps
    are single commands or Lua scripts.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._commands: list[tuple[Any, ...]] = []

    def __bool__(self) -> bool:
        return bool(self._commands)

    def add(self, *args: Any) -> None:
        """Queue one command; it is checked against the allow-list at once."""
        self._store.check(args[0])
        self._commands.append(args)

    def execute(self) -> list[Any]:
        """Send the queued commands and return their replies in order.

        Scripts go by their SHA1 (``EVALSHA``); only a server that has not seen a
        script yet gets its source, in a second round trip, once.

        :raises StoreUnavailable: Redis could not be reached in time.
        :raises StoreError: Redis answered one of the commands with an error.
        """
        replies = self._send([_by_sha(args) for args in self._commands])
        unknown = [
            index
            for index, reply in enumerate(replies)
            if isinstance(reply, redis.exceptions.NoScriptError)
        ]
        if unknown:  # NOSCRIPT: that script did not run, so sending it is exact
            resent = self._send([self._commands[index] for index in unknown])
            for index, reply in zip(unknown, resent, strict=True):
                replies[index] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise _translate(reply) from reply
        return replies

    def _send(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        try:
            pipe = self._store.client.pipeline(transaction=False)
            for args in commands:
                pipe.execute_command(*args)
            return list(pipe.execute(raise_on_error=False))
        except (redis.RedisError, OSError) as error:
            raise _translate(error) from error


@functools.cache
def _sha1(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def _by_sha(args: tuple[Any, ...]) -> tuple[Any, ...]:
    if args[0] != "EVAL":
        return args
    return ("EVALSHA", _sha1(args[1]), *args[2:])


def _queue_and_discard(
    pool: redis.ConnectionPool, commands: Sequence[Sequence[str]]
) -> tuple[str, list[bool | None]]:
    """Queue *commands* in ``MULTI`` to learn the ACL verdicts, then discard.

    The commands are sent only after ``MULTI`` was accepted, so a user who may
    not open a transaction never has them run.
    """
    connection = pool.get_connection()
    try:
        connection.send_command("MULTI")
        try:
            connection.read_response()
        except redis.ResponseError:
            return "", [None] * len(commands)
        connection.send_packed_command(
            connection.pack_commands([*commands, ("DISCARD",)])
        )
        verdicts: list[bool | None] = []
        for _ in commands:
            try:
                verdicts.append(_text(connection.read_response()) == "QUEUED")
            except NoPermissionError:
                verdicts.append(False)
            except redis.ResponseError:
                verdicts.append(None)
        return "MULTI", verdicts
    finally:
        connection.disconnect()  # whatever was queued dies with the connection
        pool.release(connection)


def _translate(error: BaseException) -> StoreError:
    if isinstance(error, redis.AuthenticationError):
        return StoreUnavailable(
            "Redis refused the user name or password", original_error=error
        )
    if isinstance(error, _UNAVAILABLE):
        return StoreUnavailable(
            f"Redis unavailable: {type(error).__name__}", original_error=error
        )
    return StoreError(f"Redis refused a command: {error}", original_error=error)


def utc_day(timestamp: float) -> str:
    """The UTC day of a Unix time, as ``YYYYMMDD``."""
    return time.strftime("%Y%m%d", time.gmtime(timestamp))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
