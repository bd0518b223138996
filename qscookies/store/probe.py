"""The ACL probe: what could this connection's user do, asking without doing.

Used by ``qscookies check`` and the middleware's start-up check
(:func:`qscookies.guard.enforce`). It may send only :data:`PROBE_COMMANDS`,
and :data:`SERVER_COMMANDS` to read the server's version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.exceptions import NoPermissionError

from ..command import Command
from ..errors import CommandRefused
from ..errors import StoreError
from ..errors import StoreUnavailable
from ..keys import KeySchema
from .client import Guard
from .faults import FAILURES
from .faults import translate

#: What :meth:`Prober.probe` runs: permission questions only. The probed commands
#: themselves are at most queued inside ``MULTI``, never executed.
PROBE_COMMANDS = frozenset({"ACL", "DISCARD", "MULTI"})

#: What :meth:`Prober.server_info` sends: ``INFO server``, else ``HELLO`` (which
#: every user may send, so a locked-down user learns the version too).
SERVER_COMMANDS = frozenset({"HELLO", "INFO"})

#: Never queued by a probe: they would run or end the transaction.
_UNPROBEABLE = frozenset({"DISCARD", "EXEC", "MULTI", "QUIT", "RESET", "WATCH"})


class Prober:
    """Asks Redis about the permissions of the connection's user.

    :param client: a ``redis.Redis`` (or cluster / Sentinel) client.
    :param prefix: the key prefix of the shop being checked.
    """

    def __init__(self, client: Any, *, prefix: str = "qs:") -> None:
        self._client = client
        self._guard = Guard(client, PROBE_COMMANDS)
        #: The key layout of the shop being checked.
        self.keys = KeySchema(prefix)

    @property
    def prefix(self) -> str:
        """The key prefix of the shop being checked."""
        return self.keys.prefix

    def server_info(self) -> dict[str, str]:
        """The fields of the server's ``INFO server``, e.g. ``redis_version``.

        A user refused ``INFO`` (the users of ``qscookies acl``) gets ``HELLO``'s
        instead, under their own names (``server``, ``version``). On a cluster
        client, the fields of its default node.

        :raises StoreUnavailable: Redis could not be reached in time.
        """
        guard = Guard(self._client, SERVER_COMMANDS)
        try:
            return _fields(guard.call(Command("INFO", args=("server",))))
        except StoreUnavailable:
            raise
        except StoreError:
            pass
        try:
            return _fields(guard.call(Command("HELLO")))
        except StoreUnavailable:
            raise
        except StoreError:
            return {}

    def probe(
        self, commands: Sequence[Sequence[str]]
    ) -> tuple[str | None, str, list[bool | str | None]]:
        """Ask Redis which *commands* this connection's user may run, running none.

        Redis 7 answers ``ACL DRYRUN <user> <command>`` for a user allowed
        ``acl|whoami`` and ``acl|dryrun``. Otherwise (Redis 6.2, or no such
        rights) the commands are queued inside ``MULTI``: Redis checks the ACL
        when it queues a command, and the transaction is then dropped with
        ``DISCARD``. ``EXEC`` is never sent and the connection is closed after,
        so no probed command ever runs.

        :param commands: the commands with harmless arguments of valid arity.
        :return: the user's name (``None`` when it may not ``ACL WHOAMI``), how
            Redis was asked (``"ACL DRYRUN"``, ``"MULTI"``, or ``""`` when the
            user may do neither) and, per command, ``True`` (permitted), the
            refusal (a ``str``: Redis's reason, which says whether the command or
            the key was refused) or ``None`` (Redis would not say).
        :raises StoreUnavailable: Redis could not be reached in time.
        """
        for command in commands:
            if command[0].upper() in _UNPROBEABLE:
                raise CommandRefused(command[0].upper())
        user = replies = None
        try:
            user = _text(self._guard.call(Command("ACL", args=("WHOAMI",))))
            replies = self._dry_run(user, commands)
        except StoreUnavailable:
            raise
        except StoreError:
            pass  # no ACL rights: ask with MULTI
        if replies is not None:
            return user, "ACL DRYRUN", replies
        pool = getattr(self._client, "connection_pool", None)
        if pool is None:  # a cluster client: no single connection to queue on
            return user, "", [None] * len(commands)
        self._guard.check([Command("MULTI"), Command("DISCARD")])
        try:
            return (user, *_queue_and_discard(pool, commands))
        except FAILURES as error:
            raise translate(error) from error

    def _dry_run(
        self, user: str, commands: Sequence[Sequence[str]]
    ) -> list[bool | str | None] | None:
        self._guard.check([Command("ACL")])
        try:
            pipe = self._client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command("ACL", "DRYRUN", user, *command)
            replies = pipe.execute(raise_on_error=False)
        except FAILURES as error:
            raise translate(error) from error
        if any(isinstance(reply, NoPermissionError) for reply in replies):
            return None  # may not DRYRUN
        if replies and all(isinstance(reply, redis.ResponseError) for reply in replies):
            return None  # no DRYRUN on this server
        return [
            None
            if isinstance(reply, Exception)
            else _text(reply) == "OK" or _text(reply)
            for reply in replies
        ]


def _queue_and_discard(
    pool: redis.ConnectionPool, commands: Sequence[Sequence[str]]
) -> tuple[str, list[bool | str | None]]:
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
        verdicts: list[bool | str | None] = []
        for _ in commands:
            try:
                verdicts.append(_text(connection.read_response()) == "QUEUED")
            except NoPermissionError as error:
                verdicts.append(str(error))  # the reason: command or key
            except redis.ResponseError:
                verdicts.append(None)
        return "MULTI", verdicts
    finally:
        connection.disconnect()  # whatever was queued dies with the connection
        pool.release(connection)


def _text(value: str | bytes | int) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _fields(reply: Any) -> dict[str, str]:
    """``INFO``'s or ``HELLO``'s reply, parsed or raw, as text fields."""
    if isinstance(reply, bytes | str):  # raw INFO text: "key:value" lines
        text = _text(reply)
        pairs = [line.partition(":")[::2] for line in text.splitlines()]
        return {key: value for key, value in pairs if value}
    if isinstance(reply, list):  # HELLO over RESP2: name, value, name, value...
        reply = dict(zip(reply[::2], reply[1::2], strict=False))
    if isinstance(reply, dict):
        return {
            _text(key): _text(value)
            for key, value in reply.items()
            if isinstance(key, bytes | str) and isinstance(value, bytes | str | int)
        }
    return {}
