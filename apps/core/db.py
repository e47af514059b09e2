"""Database connections across fork(): a child process never uses its parent's pool.

psycopg's pool is not fork-safe: a child inherits the pool object with the parent's open
sockets, and handing one of them out would interleave two processes' traffic on one server
connection. django-q2 forks its workers (after `connections.close_all()`, which with a pool
puts the connections back into it rather than closing them). After a fork the child forgets
the inherited pools, so its first query opens a pool of its own. The inherited ones are kept
referenced, never closed: closing would tell the server to end sessions the parent still
uses, and a forked child leaves with `os._exit`, which runs no finalizer.
"""

from __future__ import annotations

import os
import sys

_inherited_pools: list[object] = []


def forget_inherited_pools() -> None:
    postgresql = sys.modules.get("django.db.backends.postgresql.base")
    if postgresql is None:  # no PostgreSQL connection was ever made here
        return
    from django.db import connections

    DatabaseWrapper = postgresql.DatabaseWrapper
    _inherited_pools.extend(DatabaseWrapper._connection_pools.values())
    DatabaseWrapper._connection_pools.clear()
    for wrapper in connections.all(initialized_only=True):
        if wrapper.vendor == "postgresql" and wrapper.connection is not None:
            # A connection checked out before the fork belongs to the parent too.
            _inherited_pools.append(wrapper.connection)
            wrapper.connection = None


def install_fork_guard() -> None:
    os.register_at_fork(after_in_child=forget_inherited_pools)
