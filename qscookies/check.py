"""Is this Redis connection locked down? The check behind ``qscookies check``.

:func:`check` asks Redis, command by command (:data:`EXPORT_PROBES`), whether
the connection's user could use it to take the data out (the probes are in
:mod:`qscookies.probes`), and whether it may submit Lua of its own. ``qscookies check``
prints its answer; the start-up guard (:mod:`qscookies.guard`) logs a finding,
or with ``QSCookies(strict=True)`` refuses to start on one.
What counts is what the user may do, not only under the prefix it is told: a
``NOPERM`` says why a command was refused, and an export command refused only
because of the probed key (or channel) is allowed for other keys, which is a
finding (see :func:`classify`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .probes import EXPORT_PROBES
from .probes import KEY_PROBES
from .probes import READER_PROBES
from .probes import SUBMIT_PROBES
from .probes import WRITER_PROBE
from .probes import need_probes
from .probes import probe_commands
from .store.probe import Prober
from .words import plural

Refusal = Literal["command", "key", "channel"]

_QUOTED = re.compile(r"'[^']*'")


def refusal(reason: str) -> Refusal | None:
    """What a ``NOPERM`` reply (or an ``ACL DRYRUN`` answer) says was refused.

    Redis 7's ``ACL DRYRUN`` answers ``This user has no permissions to run the
    'dump' command`` or ``... to access the 'zz:x' key``; a command queued in
    ``MULTI`` (6.2 and 7) gets ``no permissions to run the 'dump' command`` or
    ``... to access one of the keys used as arguments`` (or channels).

    :return: ``"command"``, ``"key"``, ``"channel"``, or ``None`` when the text
        says none of these.
    """
    text = _QUOTED.sub("''", reason.lower())  # a key name could say "key"
    if "permissions to run" in text:
        return "command"
    kinds: tuple[Refusal, ...] = ("key", "channel")
    for kind in kinds:
        if f"access the '' {kind}" in text or f"access one of the {kind}s" in text:
            return kind
    return None


def classify(answer: bool | str | None, *, key_probe: bool) -> bool | None:
    """Turn one answer of :meth:`~qscookies.store.probe.Prober.probe` into a verdict.

    A command refused only because of the probed key (or channel) is allowed for
    other keys: for an export command that is a finding (``True``), whatever the
    prefix the check was told. Only for a *key_probe* (reading a key outside the
    user's share) does a refused key mean refused.

    :param answer: ``True`` (permitted), the refusal text, ``False`` (refused,
        no reason given) or ``None`` (unknown).
    :return: ``True`` allowed, ``False`` refused, ``None`` unknown.
    """
    if answer is True or answer is None or answer is False:
        return answer
    kind = refusal(answer)
    if kind is None:
        return None  # a refusal that says nothing we know: not verified
    return False if kind == "command" or key_probe else True


@dataclass(frozen=True)
class Verdict:
    """Whether the user may run one probed command."""

    #: The command as probed, e.g. ``"DUMP qs:c:{qscookies-check}"``.
    command: str
    #: ``True`` permitted, ``False`` refused, ``None`` Redis would not say.
    allowed: bool | None
    #: Why, when Redis refused this key (or channel) but not the command, e.g.
    #: ``"refused for this key only: allowed for others"``; else ``""``.
    note: str = ""


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found out about one Redis connection."""

    #: The ACL user of the connection, when Redis would tell.
    user: str | None
    #: How Redis was asked: ``"ACL DRYRUN"``, ``"MULTI"`` or ``""`` (not at all).
    method: str
    #: One verdict per export-class command (reader probes included for readers).
    verdicts: tuple[Verdict, ...]
    #: One verdict per way to submit a script of one's own
    #: (:data:`~qscookies.probes.SUBMIT_PROBES`).
    submission: tuple[Verdict, ...] = ()

    @property
    def submits_scripts(self) -> bool:
        """The user may submit Lua (``EVAL``, ``EVALSHA`` or ``SCRIPT LOAD``):
        the door the 2025 Lua flaws go through on a server without the fixes."""
        return any(v.allowed for v in self.submission)

    def submission_line(self) -> str:
        """One line on script submission: open (and by what) or closed."""
        if self.submits_scripts:
            names = " ".join(v.command.split()[0] for v in self.submission if v.allowed)
            return f"script submission open: {names} allowed"
        if all(v.allowed is False for v in self.submission):
            return "script submission closed: EVAL, EVALSHA and SCRIPT refused"
        return "script submission not verified"

    @property
    def allowed(self) -> list[str]:
        """The commands the user could use to export the data."""
        return [v.command for v in self.verdicts if v.allowed]

    @property
    def unknown(self) -> list[str]:
        """The commands Redis would not answer for."""
        return [v.command for v in self.verdicts if v.allowed is None]

    @property
    def locked_in(self) -> bool:
        """Every export-class command is known to be refused."""
        return all(v.allowed is False for v in self.verdicts)

    def summary(self) -> str:
        """One line: locked in, or what is allowed or unknown."""
        if self.locked_in:
            refused = plural(len(self.verdicts), "export command")
            return f"locked in: all {refused} refused"
        if self.allowed:
            names = sorted({c.split()[0] for c in self.allowed})
            return f"data exportable: {len(self.allowed)} allowed ({' '.join(names)})"
        if not self.method:
            return "not verified: this user may neither ACL DRYRUN nor MULTI"
        unknown = plural(len(self.unknown), "command")
        return f"not verified: Redis would not say for {unknown}"


def check(store: Prober) -> CheckResult:
    """Ask Redis what the store's connection user could use to export the data.

    One ``ACL WHOAMI`` and one pipelined round trip of ``ACL DRYRUN`` (Redis 7),
    or ``MULTI``, the probes queued, ``DISCARD`` (see
    :meth:`~qscookies.store.probe.Prober.probe`): no probed command is ever run. The
    verdicts follow :func:`classify`: an export command the user may run on
    keys outside the store's prefix counts as allowed.

    :param store: the prober of the connection to check.
    :raises StoreUnavailable: Redis could not be reached.
    """
    templates = (*EXPORT_PROBES, *READER_PROBES, *SUBMIT_PROBES, WRITER_PROBE)
    probes = probe_commands(store.prefix, templates)
    user, method, answers = store.probe(probes)
    submitted = answers[-1 - len(SUBMIT_PROBES) : -1]
    submission = tuple(
        Verdict(" ".join(probe), classify(answer, key_probe=False))
        for probe, answer in zip(SUBMIT_PROBES, submitted, strict=True)
    )
    reader = classify(answers[-1], key_probe=True) is False
    count = len(EXPORT_PROBES) + (len(READER_PROBES) if reader else 0)
    verdicts = []
    for template, probe, answer in zip(
        templates[:count], probes[:count], answers[:count], strict=True
    ):
        allowed = classify(answer, key_probe=template in KEY_PROBES)
        kind = refusal(answer) if isinstance(answer, str) else None
        note = ""
        if allowed and kind in ("key", "channel"):
            note = f"refused for this {kind} only: allowed for others"
        verdicts.append(Verdict(" ".join(probe), allowed, note))
    return CheckResult(user, method, tuple(verdicts), submission)


def refused_needs(store: Prober, *, functions: bool = True) -> list[str]:
    """The commands the middleware needs that the user is refused, by name.

    Each is asked on a key of the kind it touches
    (:func:`~qscookies.probes.need_probes`). Empty when all are allowed, or
    when Redis would not say.

    :param functions: the server has functions (Redis 7.0 on): the scripts
        go as ``FCALL``, else by ``EVALSHA``.
    :raises StoreUnavailable: Redis could not be reached.
    """
    probes = probe_commands(store.prefix, need_probes(functions))
    _, _, answers = store.probe(probes)
    return [
        probe[0]
        for probe, answer in zip(probes, answers, strict=True)
        if classify(answer, key_probe=True) is False
    ]
