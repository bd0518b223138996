"""Sending a request's plans to its store: what the contexts and doors share.

A plan the application needs (:func:`run`) fails loudly; a tracking plan
(:func:`track`) and a read that may degrade (:func:`attempt`) never raise for
Redis. Each has its asyncio twin.
"""

from __future__ import annotations

from typing import TypeVar

from .core.plan import NOTHING
from .core.plan import Plan
from .core.request import RequestState
from .errors import StoreUnavailable
from .store.aio import AsyncAppStore
from .store.app import AppStore

T = TypeVar("T")
D = TypeVar("D")


def run(state: RequestState, store: AppStore, plan: Plan[T]) -> T:
    """Send a plan the application needs; a failure marks the request failed.

    :raises StoreUnavailable: Redis failed it (the response becomes a ``503``).
    """
    try:
        while True:
            replies = store.send(plan.commands, plan.durable) if plan.commands else []
            result = plan.read(replies)
            if not isinstance(result, Plan):
                return result
            plan = result
    except StoreUnavailable:
        state.store_failed = True
        raise


async def arun(state: RequestState, store: AsyncAppStore, plan: Plan[T]) -> T:
    """:func:`run` on the asyncio store."""
    try:
        while True:
            replies = (
                await store.send(plan.commands, plan.durable) if plan.commands else []
            )
            result = plan.read(replies)
            if not isinstance(result, Plan):
                return result
            plan = result
    except StoreUnavailable:
        state.store_failed = True
        raise


def attempt(store: AppStore, plan: Plan[T], default: D) -> T | D:
    """Send a plan by the tracking policy: *default* when Redis is down.

    Never raises for Redis: a failure pauses these sends for
    ``retry_interval`` (one log line), so pages do not wait on a dead Redis.
    """
    while True:
        replies = store.track(plan.commands) if plan.commands else []
        if replies is None:
            return default
        result = plan.read(replies)
        if not isinstance(result, Plan):
            return result
        plan = result


async def aattempt(store: AsyncAppStore, plan: Plan[T], default: D) -> T | D:
    """:func:`attempt` on the asyncio store."""
    while True:
        replies = await store.track(plan.commands) if plan.commands else []
        if replies is None:
            return default
        result = plan.read(replies)
        if not isinstance(result, Plan):
            return result
        plan = result


def track(store: AppStore, plan: Plan[None]) -> None:
    """Send a tracking plan; never raises (tracking never blocks a page)."""
    if plan is not NOTHING:
        attempt(store, plan, None)


async def atrack(store: AsyncAppStore, plan: Plan[None]) -> None:
    """:func:`track` on the asyncio store."""
    if plan is not NOTHING:
        await aattempt(store, plan, None)
