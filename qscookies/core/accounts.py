"""Account rules: sign-in, sign-out, and the merge of an anonymous cart.

No I/O: :meth:`Account.login` answers a :class:`~qscookies.core.plan.Plan`, the
facades send it. After sign-in the browser's cart *is* the customer's cart, whose id is
``u:`` and a keyed hash of the customer id
(:meth:`~qscookies.codec.CookieCodec.customer_cart`), the same on every device;
the cart cookie names it, signed, so only a sign-in can put it there, and the
anonymous cart id of before (a planted or copied cookie) never reaches it.

The merge of the anonymous cart into the customer's, and the race with adds
that still carry the anonymous cookie:

- on a single Redis (or Sentinel), one script takes the anonymous lines
  (``HGETALL`` and ``DEL``), merges them by the policy and renews the TTL: an
  add is either before it (merged) or after it (it starts the anonymous cart
  afresh, under the old cookie). The anonymous cart's write markers go with
  its lines (whatever the policy), so a write re-sent after the sign-in is not
  applied again;
- on Redis Cluster the two carts live in different slots: step 1 takes the
  anonymous lines (and write markers) in one atomic script on their slot,
  step 2 merges them into the customer's cart on its slot. The take is the
  dividing line, as above: an add before it is in the lines taken and merged
  once, an add after it is in the fresh anonymous cart. Nothing is lost or
  counted twice; only a Redis failure between the two steps (login then
  raises ``StoreUnavailable``) can lose the lines taken.
"""

from __future__ import annotations

from typing import Any
from typing import Literal

from .. import scripts
from ..codec import CookieCodec
from ..command import Command
from ..command import script
from ..errors import AccountError
from ..keys import KeySchema
from ..settings import Settings
from .cart import CartState
from .cartwrite import MAX_WRITE_MARKERS
from .plan import NOTHING
from .plan import Plan
from .plan import ignore
from .plan import text

#: A merge policy of :meth:`Account.login`.
Merge = Literal["add", "replace", "keep"]

#: The merge policies: sum the quantities, replace the customer's cart by a
#: non-empty anonymous one, or keep the customer's cart as it is.
MERGE_POLICIES: tuple[Merge, ...] = ("add", "replace", "keep")

#: Longest customer id accepted.
MAX_CUSTOMER_ID = 128


def check_customer_id(customer_id: object) -> str:
    """Return *customer_id* when it is 1-128 printable characters, else raise.

    :raises AccountError: not text, empty, too long, or not printable.
    """
    if not isinstance(customer_id, str):
        raise AccountError(
            f"customer_id must be text, not {type(customer_id).__name__}"
        )
    if not 0 < len(customer_id) <= MAX_CUSTOMER_ID or not customer_id.isprintable():
        raise AccountError(
            f"customer_id must be 1 to {MAX_CUSTOMER_ID} printable characters"
        )
    return customer_id


def check_merge(merge: object) -> Merge:
    """Return *merge* when it is a policy of :data:`MERGE_POLICIES`, else raise.

    :raises AccountError: an unknown policy.
    """
    for policy in MERGE_POLICIES:
        if merge == policy and isinstance(merge, str):
            return policy
    raise AccountError(
        f"merge must be one of {', '.join(map(repr, MERGE_POLICIES))}, not {merge!r}"
    )


def lines(reply: list[Any]) -> dict[str, int]:
    """Cart lines from a script's flat ``sku, quantity, …`` reply."""
    return {text(sku): int(n) for sku, n in zip(reply[::2], reply[1::2], strict=True)}


def signed(reply: list[Any]) -> tuple[dict[str, int], str]:
    """The lines and the customer's generation from a merge script's reply."""
    return lines(reply[1:]), text(reply[0])


class Account:
    """Sign-in and sign-out of one request's browser: its cart's owner.

    A component of :class:`~qscookies.core.request.RequestState`, as the cart
    is; each method answers a plan, the facades send it.

    :param settings: the validated settings.
    :param codec: the cookie codec (the customer's cart id is its keyed hash).
    :param keys: the key schema.
    :param cart: the request's cart.
    :param cluster: the store is a Redis Cluster (the two carts of a merge
        live in two slots there).
    """

    def __init__(
        self,
        settings: Settings,
        codec: CookieCodec,
        keys: KeySchema,
        cart: CartState,
        *,
        cluster: bool,
    ) -> None:
        self._settings = settings
        self._codec = codec
        self._keys = keys
        self._cart = cart
        self._cluster = cluster

    @property
    def signed_in(self) -> bool:
        """The browser's cart is a customer's cart (a valid signed-in cart cookie)."""
        return self._cart.signed_in

    def login(self, customer_id: str, merge: str = "add") -> Plan[None]:
        """Sign the browser in: its cart becomes the customer's, merged by *merge*.

        The browser's anonymous cart, if any, is merged into the customer's and
        deleted; the cart cookie then names the customer's cart (a new, signed
        value). Already signed in as this customer: the cart stays; as another
        customer: that customer's cart is left as it is, never merged.

        One round trip on a single Redis (a script); on Redis Cluster, with an
        anonymous cart to merge, two (take, then merge: see the module).

        :raises AccountError: a bad customer id or merge policy.
        :raises HeadersSentError: the response already started (the browser
            could never learn its new cart).
        """
        check_customer_id(customer_id)
        policy = check_merge(merge)
        settings = self._settings
        cart = self._cart
        cart.check_unsent("signed in")
        target = self._codec.customer_cart(customer_id)
        anonymous = None if cart.signed_in else cart.id()
        limits = (
            policy,
            settings.max_quantity,
            settings.max_cart_lines,
            settings.customer_cart_max_age * 1000,
            MAX_WRITE_MARKERS,
            settings.items_bound,
        )
        keys = self._keys
        customer = keys.cart_keys(target)
        key, generation = customer[0], keys.generation(target)

        def merged(*carried: Any) -> Command:
            """The merge into the customer's cart of *carried* (count, lines…)."""
            return script(
                scripts.CART_MERGE, (*customer, generation), *limits, *carried
            )

        def adopt(replies: list[Any]) -> None:
            cart.adopt(target, *signed(replies[-1]))

        if anonymous is None:
            return Plan((merged(0),), adopt, durable=key)
        taken = keys.cart_keys(anonymous)
        if not self._cluster:
            login = script(scripts.LOGIN, (*taken, *customer, generation), *limits)
            return Plan((login,), adopt, durable=key)

        # Two single commands, never one pipeline over two slots: redis-py's
        # cluster pipeline asks a node for an EVALSHA's keys first (COMMAND
        # GETKEYS).
        def give(replies: list[Any]) -> Plan[None]:
            lines, markers = replies[0]
            carried = () if policy == "keep" else tuple(lines)
            command = merged(len(carried), *carried, *markers)
            return Plan((command,), adopt, durable=key)

        take = script(scripts.CART_TAKE, taken)
        return Plan((take,), give, durable=taken[0])

    def logout(self, everywhere: bool = False) -> Plan[None]:
        """Sign the browser out: a fresh, empty anonymous cart from now on.

        The customer's cart stays for the next sign-in; the cart cookie is
        dropped and the next cart write starts a new anonymous cart. (Called on
        an anonymous browser, its cart is left to expire with its TTL.) No
        Redis, unless *everywhere*: then the customer's sign-in generation
        moves (``HINCRBY``, ``EXPIRE``, one round trip) and every signed-in
        cart cookie of that customer, on every device and every copy of one,
        stops working at its next cart read or write.

        :raises HeadersSentError: the response already started.
        """
        cart = self._cart
        cart.check_unsent("signed out")
        cart_id = cart.id() if cart.signed_in else None
        cart.drop()
        if not (everywhere and cart_id):
            return NOTHING
        key = self._keys.generation(cart_id)
        ttl = self._settings.customer_cart_max_age
        moved = (
            Command("HINCRBY", (key,), ("g", 1)),
            Command("EXPIRE", (key,), (ttl,)),
        )
        return Plan(moved, ignore)
