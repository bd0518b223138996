"""The request rules: pure functions and plans, no I/O and no protocol.

A door turns its protocol into plain values, these modules decide what to send to
Redis (a :class:`~qscookies.core.plan.Plan`), which cookies to set or drop and what
to answer, and the store runs the plans.
"""
