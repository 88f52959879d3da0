"""The dispatcher's HTTP exchange with an institution, against scripted servers on
loopback: answers framed by length, chunked or by the close, connections kept alive and
replaced when the server closed them, and every failure an ``Undelivered`` naming its
outcome (which the dispatcher records and retries)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from fanzha.gateway.dispatcher import Outcome, Undelivered, exchange, institution_session


async def _serve(handler):
    """A loopback server running ``handler(reader, writer, n)`` per connection (n: its number)."""
    count = {"n": 0}

    async def on_conn(reader, writer):
        count["n"] += 1
        try:
            await handler(reader, writer, count["n"])
        finally:
            writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], count


@contextlib.asynccontextmanager
async def _serving(handler, cap: int = 4):
    """A scripted server and an institution session to it: (session, port, connections)."""
    server, port, conns = await _serve(handler)
    session = institution_session(cap, 60.0)
    try:
        yield session, port, conns
    finally:
        await session.close()
        server.close()


async def _read_request(reader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    return head, await reader.readexactly(length)


async def _post(session, port: int, body: bytes = b'{"a": 1}', timeout: float = 5.0):
    return await exchange(session, f"http://127.0.0.1:{port}/v1/x", body, {"X-Fanzha-Institution": "B1"}, timeout)


def test_answers_by_length_and_chunked_over_one_kept_connection():
    async def main():
        heads: list[bytes] = []

        async def handler(reader, writer, n):
            k = 0
            while True:
                try:
                    head, body = await _read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                heads.append(head)
                k += 1
                if k % 2:
                    out = b'{"echo": ' + body + b"}"
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(out)).encode() + b"\r\n\r\n" + out)
                else:
                    writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"4\r\nchun\r\n6\r\nked ok\r\n0\r\n\r\n")
                await writer.drain()

        async with _serving(handler) as (session, port, conns):
            r1 = await _post(session, port)
            r2 = await _post(session, port)
            r3 = await _post(session, port, b"[2]")
        assert (r1.status, r1.content) == (200, b'{"echo": {"a": 1}}')
        assert (r2.status, r2.text) == (201, "chunked ok")
        assert r3.content == b'{"echo": [2]}'
        assert conns["n"] == 1            # one connection for all three
        assert all(h.startswith(b"POST /v1/x HTTP/1.1\r\n") and b"x-fanzha-institution: b1" in h.lower()
                   for h in heads)

    asyncio.run(main())


def test_a_connection_the_server_closed_while_idle_is_replaced():
    async def main():
        got: list[bytes] = []

        async def handler(reader, writer, n):
            while True:
                try:
                    _, body = await _read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                got.append(body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                if n == 1:
                    return                # closes after one answer, unannounced

        async with _serving(handler) as (session, port, conns):
            assert (await _post(session, port, b"1")).content == b"ok"
            await asyncio.sleep(0.1)
            assert (await _post(session, port, b"2")).content == b"ok"
        assert got == [b"1", b"2"] and conns["n"] == 2

    asyncio.run(main())


def test_connection_close_and_a_body_to_the_close():
    async def main():
        async def handler(reader, writer, n):
            await _read_request(reader)
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 2\r\n\r\n")
            writer.write(b"down")     # no length: the body runs to the close
            await writer.drain()

        async with _serving(handler) as (session, port, conns):
            r1 = await _post(session, port)
            r2 = await _post(session, port)
        assert (r1.status, r1.headers["retry-after"], r1.content) == (503, "2", b"down")
        assert r2.status == 503 and conns["n"] == 2

    asyncio.run(main())


@pytest.mark.parametrize("reply, outcome, says", [
    (None, Outcome.timeout, "no answer within 0.3 s"),                                   # never answers
    (b"garbage\r\n\r\n", Outcome.connect_error, ""),                                     # not HTTP
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", Outcome.connect_error, ""),  # cut short
    (b"", Outcome.connect_error, "Disconnected"),                                         # closed, no answer
])
def test_failures_are_undelivered_with_their_outcome(reply, outcome, says):
    async def main():
        async def handler(reader, writer, n):
            await _read_request(reader)
            if reply is None:
                await asyncio.sleep(5)
                return
            writer.write(reply)
            await writer.drain()

        async with _serving(handler) as (session, port, _):
            with pytest.raises(Undelivered) as err:
                await _post(session, port, timeout=0.3)
        assert err.value.outcome is outcome and says in err.value.detail and err.value.detail

    asyncio.run(main())


def test_nobody_listening_is_a_connect_error():
    async def main():
        server, port, _ = await _serve(lambda r, w, n: asyncio.sleep(0))
        server.close()
        await server.wait_closed()
        session = institution_session(4, 60.0)
        try:
            with pytest.raises(Undelivered) as err:
                await _post(session, port)
        finally:
            await session.close()
        assert err.value.outcome is Outcome.connect_error and "cannot connect" in err.value.detail

    asyncio.run(main())


def test_at_most_cap_connections_to_one_institution():
    async def main():
        open_now = {"n": 0, "most": 0}

        async def handler(reader, writer, n):
            open_now["n"] += 1
            open_now["most"] = max(open_now["most"], open_now["n"])
            try:
                while True:
                    try:
                        await _read_request(reader)
                    except asyncio.IncompleteReadError:
                        return
                    await asyncio.sleep(0.02)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    await writer.drain()
            finally:
                open_now["n"] -= 1

        async with _serving(handler, cap=3) as (session, port, conns):
            replies = await asyncio.gather(*(_post(session, port, str(i).encode()) for i in range(12)))
        assert [r.content for r in replies] == [b"ok"] * 12
        assert open_now["most"] == 3 and conns["n"] == 3

    asyncio.run(main())
