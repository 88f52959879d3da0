"""Word to a waiting dispatcher that the outbox may hold new orders.

A dispatcher with nothing to do looks at the outbox every ``idle_s`` (50 ms): an order
queued just after a look waits for the next one, and a look costs a transaction. What
a new order needs is a nudge the moment it is committed, whoever wrote it (intake
starting the loop, an officer's form, a callback's next step):

* **PostgreSQL** — every statement inserting into ``orders`` notifies the channel
  :data:`CHANNEL` (a statement trigger, migration 0006), delivered when its transaction
  commits; the dispatcher listens on a connection of its own.
* **SQLite** (a file) — another connection's commit changes ``PRAGMA data_version`` of
  a connection of the dispatcher's own; it reads it every ``poll_s`` (a few
  microseconds: no statement, no transaction).

A nudge only cuts the idle pause short: the look itself is the same claim, and the
regular looks go on, so an order whose retry time comes due (no commit announces it)
or a lost notification (a connection dropped) costs at most the idle pause, as before.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Callable

from sqlalchemy.engine import URL

#: The notification channel of new orders (the trigger of migration 0006 names it too).
CHANNEL = "fanzha_outbox"


async def watch(url: URL, nudge: Callable[[], None], *, poll_s: float = 0.01, retry_s: float = 1.0,
                failed: Callable[[BaseException], None] = lambda err: None) -> None:
    """Call ``nudge`` whenever another connection may have queued orders, until cancelled.

    A failure (the server gone, the file unreadable) is reported to ``failed`` and the
    watch tried again after ``retry_s``; meanwhile the dispatcher's regular looks go on.
    Databases it cannot watch (SQLite in memory) return at once.
    """
    backend = url.get_backend_name()
    if backend == "postgresql":
        run = _listen
    elif backend == "sqlite" and url.database and url.database != ":memory:" and "mode=memory" not in str(url):
        run = _data_version
    else:
        return
    while True:
        try:
            await run(url, nudge, poll_s)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the watch is a shortcut: without it the looks go on
            failed(err)
        await asyncio.sleep(retry_s)


async def _listen(url: URL, nudge: Callable[[], None], poll_s: float) -> None:
    import psycopg

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        nudge()   # anything committed before the LISTEN took is looked for once
        async for _ in conn.notifies():
            nudge()


async def _data_version(url: URL, nudge: Callable[[], None], poll_s: float) -> None:
    conn = sqlite3.connect(url.database, check_same_thread=False)   # only ever reads the pragma
    try:
        seen = conn.execute("PRAGMA data_version").fetchone()[0]
        while True:
            await asyncio.sleep(poll_s)
            now = conn.execute("PRAGMA data_version").fetchone()[0]
            if now != seen:
                seen = now
                nudge()
    finally:
        conn.close()
