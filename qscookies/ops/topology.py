"""What bounds a request on a cluster: ``qscookies check --cluster``'s failover part.

:func:`failover` reads the cluster through a :class:`~qscookies.store.survey.Surveyor`
and turns what it found into :class:`Finding` lines, each checked against the
documentation's "Scale and failover" page (``docs/scale.md``):

- every master has an online replica (else a ``kill -9`` of it loses the writes
  not yet replicated and stops its carts' writes until it is back), and every
  one of the 16384 slots is served;
- ``cluster-require-full-coverage no`` on every node (with ``yes``, carts on
  the healthy masters answer ``503`` too while one shard fails over), and
  ``cluster-node-timeout``, after which a failover starts;
- the command's own client keeps the bound (:func:`~qscookies.guard.unbounded`),
  and what a client passed to ``QSCookies(redis=...)`` needs
  (:data:`~qscookies.guard.CLIENT_SETTINGS`, the start-up warning's words).

They are warnings for the operator: the exit code of ``qscookies check`` stays
the export verdict's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Literal

from ..guard import CLIENT_SETTINGS
from ..guard import unbounded
from ..store.survey import Shard
from ..store.survey import Surveyor
from ..words import plural

#: The slots of a Redis Cluster.
SLOTS = 16384

Level = Literal["ok", "WARNING", "unknown", "note"]

_NO_REPLICA = (
    "a kill -9 of it loses its carts' writes not yet replicated and stops cart"
    " writes until it is back"
)
_FULL_COVERAGE = "cluster-require-full-coverage no on every node"
_NODE_TIMEOUT = "a failover starts after cluster-node-timeout"


@dataclass(frozen=True)
class Finding:
    """One line of the failover section: a level and what to know or do."""

    #: ``"ok"``, ``"WARNING"``, ``"unknown"`` (could not be read) or ``"note"``.
    level: Level
    #: The verdict, e.g. ``"master 10.0.0.1:7000 (slots 0-5460): 1 replica online"``.
    text: str

    def __str__(self) -> str:
        return f"{self.level:8} {self.text}"


def failover(client: Any) -> tuple[str, list[Finding]]:
    """Survey the cluster of *client* and judge what bounds a request on it.

    :param client: the ``redis.RedisCluster`` of ``qscookies check --cluster``.
    :return: the command the shard map came from, and the findings in order:
        shards, slots, settings, client.
    :raises StoreError: the shard map could not be read.
    """
    surveyor = Surveyor(client)
    method, found = surveyor.shards()
    settings = surveyor.settings()
    return method, [
        *shard_findings(found),
        *setting_findings(settings),
        *client_findings(client),
    ]


def shard_findings(shards: Sequence[Shard]) -> list[Finding]:
    """A line per master (its replicas online), then one for the slots served."""
    findings = []
    for shard in sorted(shards, key=lambda s: s.slots):
        where = f"master {shard.master} (slots {_ranges(shard.slots)})"
        if shard.online is False:
            findings.append(Finding("WARNING", f"{where}: not online"))
        if shard.replicas:
            online = plural(shard.replicas, "replica")
            findings.append(Finding("ok", f"{where}: {online} online"))
        else:
            text = f"{where}: no replica online: {_NO_REPLICA}"
            findings.append(Finding("WARNING", text))
    served = {slot for s in shards for a, b in s.slots for slot in range(a, b + 1)}
    missing = sorted(set(range(SLOTS)) - served)
    if missing:
        text = (
            f"{len(missing)} of {SLOTS} slots served by no master"
            f" ({_ranges(_runs(missing))}): cart writes to them fail"
        )
        findings.append(Finding("WARNING", text))
    else:
        findings.append(Finding("ok", f"all {SLOTS} slots served"))
    return findings


def setting_findings(settings: dict[str, dict[str, str | None]]) -> list[Finding]:
    """Lines for ``cluster-require-full-coverage`` and ``cluster-node-timeout``."""
    coverage = settings.get("cluster-require-full-coverage", {})
    timeout = settings.get("cluster-node-timeout", {})
    unread = sorted({n for v in (coverage, timeout) for n, x in v.items() if x is None})
    findings = []
    if unread:
        text = (
            "could not read cluster-require-full-coverage and cluster-node-timeout"
            f" on {plural(len(unread), 'node')} (CONFIG GET refused, or no answer:"
            f" {', '.join(unread)}): set {_FULL_COVERAGE}; {_NODE_TIMEOUT}"
        )
        findings.append(Finding("unknown", text))
    read = {n: v for n, v in coverage.items() if v is not None}
    full = sorted(n for n, value in read.items() if value == "yes")
    if full:
        text = (
            f"cluster-require-full-coverage yes on {', '.join(full)}: carts on"
            " healthy masters answer 503 while one shard fails over; set"
            f" {_FULL_COVERAGE}"
        )
        findings.append(Finding("WARNING", text))
    elif read:
        text = f"cluster-require-full-coverage no on {plural(len(read), 'node')} read"
        findings.append(Finding("ok", text))
    values = sorted({int(v) for v in timeout.values() if v is not None})
    if values:
        spread = f"{values[0]} ms" + (f" to {values[-1]} ms" if len(values) > 1 else "")
        text = (
            f"cluster-node-timeout {spread}: a failover starts that long after"
            " a master fails, and its carts answer 503 until a replica takes over"
        )
        findings.append(Finding("note", text))
    return findings


def client_findings(client: Any) -> list[Finding]:
    """The command's own client judged by :func:`~qscookies.guard.unbounded`,
    and what a client passed to ``QSCookies(redis=...)`` needs."""
    problems = unbounded(client)
    if problems:
        mine = Finding("WARNING", f"this command's client {' and '.join(problems)}")
    else:
        mine = Finding("ok", "this command's client: no retries, timeouts set")
    passed = Finding(
        "note", f"a client passed to QSCookies(redis=...) needs {CLIENT_SETTINGS}"
    )
    return [mine, passed]


def _ranges(slots: Sequence[tuple[int, int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in slots)


def _runs(slots: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted *slots* as ``(first, last)`` runs."""
    runs: list[tuple[int, int]] = []
    for slot in slots:
        if runs and runs[-1][1] == slot - 1:
            runs[-1] = (runs[-1][0], slot)
        else:
            runs.append((slot, slot))
    return runs
