"""How a planned script goes out: ``FCALL`` of its function, or ``EVALSHA``.

The request core plans each script as a
:class:`~qscookies.command.Command` named ``EVAL`` that holds its source
(see :mod:`qscookies.scripts`); this lays it out for the wire, once. On Redis
7.0 and later a guard sends it as ``FCALL`` (``FCALL_RO`` for a read) of the
function library's function (:mod:`~qscookies.scripts.library`), which the app
user may call without being allowed to submit Lua; on Redis 6.2, which has no
functions, as ``EVALSHA``, and as ``EVAL`` only when the server has not seen
the script (``NOSCRIPT``).

Which way a server takes is learnt, never asked on the request path:
:class:`Runner` starts with functions (or with what the start-up check told it,
:meth:`Runner.use_functions`) and a reply that says a way is closed here moves it
to the other one, for that command at once and for the commands after it:
``FCALL`` answered ``unknown command`` (6.2), ``Function not found`` (the
library is not loaded: ``qscookies functions``) or ``NOPERM`` for ``fcall``;
``EVALSHA`` or ``EVAL`` answered ``NOPERM`` for that command (the Redis 7 rules
of ``qscookies acl``). Each of these replies means the command did not run, so
sending it again is exact. When neither way is open the command fails with the
reply that says what to do (a missing library first).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import redis

from ..command import Command
from ..scripts.library import CALLS
from ..scripts.library import FUNCTION_CALLS
from ..scripts.library import NAME

log = logging.getLogger("qscookies")

#: One command as it goes on the wire: its name, then its arguments.
Wire = tuple[Any, ...]

#: The commands that run a script, by source or by SHA1.
SCRIPT_CALLS = frozenset({"EVAL", "EVALSHA"})

#: The commands that run a script, as a function or not.
RUNS_SCRIPT = SCRIPT_CALLS | FUNCTION_CALLS


def sendable(allowed: frozenset[str]) -> frozenset[str]:
    """The commands that may go on the wire for a role allowed *allowed* (as
    planned): a planned script may go as a function, a function as a script."""
    return allowed | RUNS_SCRIPT if allowed & RUNS_SCRIPT else allowed


#: What Redis says of a function it does not hold.
MISSING = "function not found"


@functools.cache
def sha1(script: str) -> str:
    """The SHA1 by which Redis knows a script."""
    return hashlib.sha1(script.encode()).hexdigest()


def fewer(first: Any, second: Any) -> Any:
    """Of two ``WAIT`` replies, the one that confirms less (an error first).

    A pipeline re-sent in another way may go out on another connection than
    the first, so each ``WAIT`` vouches for its own connection's writes.
    """
    if isinstance(first, Exception) or isinstance(second, Exception):
        return first if isinstance(first, Exception) else second
    return min(int(first), int(second))


def missing_library(error: BaseException) -> bool:
    """*error* is Redis saying it holds no such function (no library loaded)."""
    return MISSING in str(error).lower()


def _refused(error: BaseException, name: str) -> bool:
    """*error* is the ACL refusing the command *name* itself (not a key)."""
    text = str(error).lower()
    return isinstance(error, redis.exceptions.NoPermissionError) and (
        f"'{name.lower()}' command" in text
    )


def wire(command: Command) -> Wire:
    """*command* as planned, on the wire: a script as ``EVAL`` of its source."""
    keys = command.keys
    if command.script is None:
        return (command.name, *keys, *command.args)
    return ("EVAL", command.script, len(keys), *keys, *command.args)


def _by_sha(command: Command, script: str) -> Wire:
    """The script *command* (of source *script*) as ``EVALSHA``."""
    keys = command.keys
    return ("EVALSHA", sha1(script), len(keys), *keys, *command.args)


def _as_function(command: Command, call: tuple[str, str]) -> Wire:
    """The script *command* as the function call *call* (``FCALL``, name)."""
    keys = command.keys
    return (*call, len(keys), *keys, *command.args)


def closed(sent: Wire, error: BaseException) -> bool:
    """The reply *error* to *sent* says that way of running a script is closed
    on this server (the command did not run)."""
    name = sent[0]
    if name in FUNCTION_CALLS:
        text = str(error).lower()
        return "unknown command" in text or MISSING in text or _refused(error, name)
    if name == "EVALSHA" and isinstance(error, redis.exceptions.NoScriptError):
        return True
    return name in SCRIPT_CALLS and _refused(error, name)


class Runner:
    """The way a guard's scripts go out, learnt from the server's replies.

    :attr:`functions` is shared by the commands of every request of a store;
    a race between two requests that learn at once only costs a re-send.
    """

    __slots__ = ("functions",)

    def __init__(self) -> None:
        #: Scripts go as ``FCALL`` first (else ``EVALSHA``).
        self.functions = True

    def use_functions(self, on: bool) -> None:
        """Send scripts as ``FCALL`` (*on*) or ``EVALSHA`` from now on (what
        the start-up check learnt of the server's version)."""
        self.functions = on

    def form(self, command: Command) -> Wire:
        """What goes out first for the planned *command*."""
        script = command.script
        if script is None:
            return wire(command)
        call = CALLS.get(script) if self.functions else None
        if call is None:
            return _by_sha(command, script)
        return _as_function(command, call)

    def attempts(
        self, commands: Sequence[Command], sent: Sequence[Wire] | None = None
    ) -> Attempts:
        """The forms of *commands* for one send (see :class:`Attempts`).

        :param sent: the forms that went out already (:meth:`form` of each,
            taken before another request could change the way).
        """
        return Attempts(self, commands, sent)


def _other(planned: Command, sent: Wire, tried: set[str]) -> Wire | None:
    """The next way to run *planned* after *sent* was closed, or ``None``."""
    script = planned.script
    if script is None:
        return None
    if sent[0] == "EVALSHA" and "EVAL" not in tried and "NOSCRIPT" in tried:
        return wire(planned)
    call = CALLS.get(script)
    if sent[0] in FUNCTION_CALLS and "EVALSHA" not in tried:
        return _by_sha(planned, script)
    if sent[0] in SCRIPT_CALLS and call is not None and call[0] not in tried:
        return _as_function(planned, call)
    return None


class Attempts:
    """The commands of one send as they go out, and again where a way was closed.

    :meth:`again` picks the replies that ask for another way and sets the next
    form of those commands (each way is tried once per command: three rounds at
    most, and only while a server is learnt); :meth:`settle` then tells the
    :class:`Runner` which way worked and puts, in place of a reply that found
    every way closed, the one that says what to do: on a server of functions
    the ``FCALL``'s (a missing library, a missing ``+fcall``), else the first
    (Redis 6.2's ``unknown command`` for ``FCALL`` never).
    """

    __slots__ = ("_telling", "_runner", "planned", "sent", "_tried")

    def __init__(
        self,
        runner: Runner,
        commands: Sequence[Command],
        sent: Sequence[Wire] | None = None,
    ) -> None:
        self._runner = runner
        self.planned = commands
        #: What goes out (or went out last) for each command.
        self.sent = list(sent) if sent else [runner.form(c) for c in commands]
        self._tried = [{command[0]} for command in self.sent]
        self._telling: dict[int, BaseException] = {}

    def again(self, replies: Sequence[Any]) -> list[int]:
        """The positions of *replies* whose command goes out again, in the
        next form (:attr:`sent`)."""
        indexes = []
        for index, sent in enumerate(self.sent):
            reply = replies[index]
            if not isinstance(reply, Exception) or not closed(sent, reply):
                continue
            tried = self._tried[index]
            if isinstance(reply, redis.exceptions.NoScriptError):
                tried.add("NOSCRIPT")
            if "unknown command" not in str(reply).lower():  # not Redis 6.2's FCALL
                if sent[0] in FUNCTION_CALLS:  # a server of functions: it says
                    self._telling[index] = reply
                else:
                    self._telling.setdefault(index, reply)
            other = _other(self.planned[index], sent, tried)
            if other is None:
                continue
            self.sent[index] = other
            tried.add(other[0])
            indexes.append(index)
        return indexes

    def merge(
        self, replies: list[Any], indexes: Sequence[int], resent: list[Any]
    ) -> None:
        """Put the replies *resent* for the commands at *indexes* in *replies*;
        a ``WAIT`` re-sent after them (one reply more) counts with the first's
        (:func:`fewer`)."""
        if len(resent) > len(indexes):
            replies[-1] = fewer(replies[-1], resent.pop())
        for index, reply in zip(indexes, resent, strict=True):
            replies[index] = reply

    def settle(self, replies: list[Any]) -> list[Any]:
        """*replies* (the commands', then any ``WAIT``'s), once the
        :class:`Runner` learnt which way works."""
        for index, sent in enumerate(self.sent):
            reply = replies[index]
            if sent[0] not in FUNCTION_CALLS and sent[0] not in SCRIPT_CALLS:
                continue
            if isinstance(reply, Exception) and closed(sent, reply):
                replies[index] = self._telling.get(index, reply)
                continue
            functions = sent[0] in FUNCTION_CALLS
            if functions != self._runner.functions:
                self._learn(functions, self._telling.get(index))
        return replies

    def _learn(self, functions: bool, refused: BaseException | None) -> None:
        self._runner.use_functions(functions)
        if refused is not None and missing_library(refused):  # say so once
            log.warning(
                "qscookies: the function library %s is not loaded on this"
                " server, so the scripts go by EVALSHA and script submission"
                " stays open; load it with `qscookies functions` and apply the"
                " Redis 7 rules of `qscookies acl`",
                NAME,
            )
