"""New orders committed by another connection reach a waiting dispatcher at once, not
at its next look at the outbox (:mod:`fanzha.gateway.wake`), on both databases."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from fanzha.gateway import wake
from fanzha.gateway.dispatcher import DispatchConfig, Dispatcher
from fanzha.store import audit
from fanzha.store.db import transaction
from fanzha.store.models import OrderAttempt

from gwkit import A, queue, seed  # noqa: E402


def _watching(sessions, body, **kw):
    """Run ``body(nudged)`` (a coroutine function) while the outbox is watched."""
    async def main():
        nudged = asyncio.Event()
        task = asyncio.create_task(wake.watch(sessions.kw["bind"].url, nudged.set, **kw))
        try:
            await asyncio.sleep(0.3)   # the watch is up (PostgreSQL: LISTEN taken)
            nudged.clear()
            return await body(nudged)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return asyncio.run(main())


def test_an_order_committed_elsewhere_nudges_the_watch(sessions):
    case = seed(sessions, None)
    pg = sessions.kw["bind"].dialect.name == "postgresql"

    async def body(nudged):
        if pg:   # a commit that queues no order says nothing (SQLite's data version cannot tell)
            def unrelated():
                with transaction(sessions) as s:
                    audit.record(s, actor="t", actor_kind="user", role="admin", action="noop", resource="x")
            await asyncio.to_thread(unrelated)
            await asyncio.sleep(0.3)
            assert not nudged.is_set()
        t = time.monotonic()
        await asyncio.to_thread(queue, sessions, case, "account_holder", "ICBC", A)
        await asyncio.wait_for(nudged.wait(), 5)
        return time.monotonic() - t

    assert _watching(sessions, body, poll_s=0.005) < 1.0


def test_orders_written_in_bulk_nudge_the_watch(sessions):
    """A bulk import's orders (on PostgreSQL streamed by COPY, from 16 rows on) nudge
    the watch as a single order's INSERT does."""
    from fanzha.store import services
    from fanzha.store.db import COPY_FROM

    case_no = seed(sessions, None)

    def queue_many():
        with transaction(sessions) as s:
            case, inst = services.get_case(s, case_no), services.get_institution(s, "ICBC")
            made = services.order_rows(s, [services.OrderSpec(case, "account_holder", inst, f"6222{i:012d}",
                                                              "反电信网络诈骗法 第二十条")
                                           for i in range(COPY_FROM + 4)], created_by="test")
            services.insert_order_rows(s, [row for row, new in made if new])

    async def body(nudged):
        await asyncio.to_thread(queue_many)
        await asyncio.wait_for(nudged.wait(), 5)
        return True

    assert _watching(sessions, body)


@pytest.mark.parametrize("wakes", [True, False], ids=["watched", "polled"])
def test_a_waiting_dispatcher_sends_an_order_queued_meanwhile_at_once(sessions, keys, make_sim, wakes):
    """A dispatcher gone idle (its next look 30 s away) sends an order committed by
    another connection within a second when it watches the outbox, and not before its
    next look when it does not (the control: the test can tell the two apart)."""
    h = make_sim()
    case = seed(sessions, h)
    d = Dispatcher(sessions, keys, DispatchConfig(idle_s=30.0, timeout_s=10.0, seed=1, wake=wakes))
    queued_at: list[float] = []

    def queue_later():
        time.sleep(0.5)   # the dispatcher has looked, found nothing and gone idle
        queued_at.append(time.time())
        queue(sessions, case, "account_holder", "ICBC", A)

    async def main():
        stop = asyncio.Event()
        run = asyncio.create_task(d.run(stop))
        feeder = threading.Thread(target=queue_later)
        feeder.start()
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not d.counters.attempts:
            await asyncio.sleep(0.02)
        stop.set()
        await run
        feeder.join()

    asyncio.run(main())
    with sessions() as s:
        started = s.execute(select(OrderAttempt.started_at)).scalars().all()
    if wakes:
        assert len(started) == 1
        assert started[0].timestamp() - queued_at[0] < 1.0
    else:
        assert started == []


def test_a_watch_that_cannot_connect_says_so_and_tries_again():
    failures: list[BaseException] = []

    async def main():
        task = asyncio.create_task(wake.watch(make_url("postgresql+psycopg://nobody@127.0.0.1:1/none"),
                                              lambda: None, retry_s=0.05, failed=failures.append))
        deadline = time.monotonic() + 10
        while len(failures) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert len(failures) >= 2


def test_a_database_in_memory_is_not_watched():
    async def main():
        await asyncio.wait_for(wake.watch(make_url("sqlite://"), lambda: None), 1)
    asyncio.run(main())
