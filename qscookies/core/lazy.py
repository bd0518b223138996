"""A lazily built attribute of a per-request object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Generic
from typing import TypeVar
from typing import overload

T = TypeVar("T")


class lazy(Generic[T]):
    """``functools.cached_property`` without its lock (taken on every first use
    before Python 3.12, a cost on each request); a request is one thread."""

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._name = build.__name__
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, state: None, owner: type) -> lazy[T]: ...
    @overload
    def __get__(self, state: object, owner: type) -> T: ...
    def __get__(self, state: object, owner: type) -> lazy[T] | T:
        if state is None:
            return self
        value = self._build(state)
        # setattr, not __dict__: a lazy has no __set__, so the value shadows it
        # in the instance's own attributes, and no __dict__ is made for it.
        setattr(state, self._name, value)
        return value
