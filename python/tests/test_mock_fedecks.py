"""The Fedecks socket: header auth, tokens, terms, the raw handler, ping (spec section 5)."""

import asyncio
import base64
import logging
import shutil
import subprocess

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from phoenix_wire import etf
from phoenix_wire.mock import fedecks
from phoenix_wire.mock.testing import http, serve

PATH = "/fedecks/websocket"
SECRET = "test-secret"
CONFIG = {"fedecks": {"secret": SECRET}}


def server_text(caplog):
    """Everything the server side logged (the test's own websockets client logs its headers)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client"))


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def erlang_token(reply):
    """Have Erlang (a real peer) match the reply against {"token", T} (Elixir's
    {'token', T}) and print T."""
    erl = shutil.which("erl")
    assert erl, "Erlang/OTP (erlang-nox) is needed for the Fedecks interop check"
    script = (f'B = binary:decode_hex(<<"{reply.hex()}">>), {{"token", T}} = binary_to_term(B), '
              'io:put_chars(T), halt().')
    out = subprocess.run([erl, "-noshell", "-eval", script], capture_output=True, timeout=60, check=True)
    return out.stdout


def auth_header(**fields):
    return base64.b64encode(etf.dumps(dict(fields))).decode()


def login(device="box-1", username="demo", password="demo-password"):
    return {"x-fedecks-auth": auth_header(**{"fedecks-device-id": device, "username": username,
                                             "password": password})}


async def open_ws(server, headers):
    return await asyncio.wait_for(connect(server.ws_url + PATH, additional_headers=headers, open_timeout=3), 4)


async def recv(ws, timeout=3):
    return await asyncio.wait_for(ws.recv(), timeout)


async def refused(server, headers):
    with pytest.raises(InvalidStatus) as info:
        ws = await open_ws(server, headers)
        await ws.close()
    return info.value.response.status_code


def test_login_token_please_and_reconnect_with_token():
    async def go():
        async with serve(CONFIG) as s:
            ws = await open_ws(s, login())
            await ws.send(b"\x83k\x00\x0ctoken_please")
            reply = await recv(ws)
            charlist, token = etf.loads(reply)
            assert charlist == list(b"token") and isinstance(token, bytes)
            # byte-exact with the spec: 131,104,2,107,0,5,"token",109,<u32 len>,token
            assert reply == b"\x83h\x02k\x00\x05token" + b"m" + len(token).to_bytes(4, "big") + token
            assert fedecks.verify_token(SECRET.encode(), token) == "box-1"
            await ws.close()
            header = {"x-fedecks-auth": auth_header(**{"fedecks-device-id": "box-1", "fedecks-token": token})}
            ws2 = await open_ws(s, header)
            await ws2.send(etf.dumps((etf.Atom("hello"), 1)))
            assert etf.loads(await recv(ws2), atoms=["hello"]) == (etf.Atom("hello"), 1)
            await ws2.close()
            return reply, token

    reply, token = run(go())
    # The real runtime reads it as Elixir's {'token', Token}. Outside the timed
    # session: starting erl on a loaded machine can take seconds.
    assert erlang_token(reply) == token


def test_expired_forged_and_foreign_tokens_are_refused():
    async def go():
        async with serve(CONFIG) as s:
            key = SECRET.encode()
            expired = fedecks.make_token(key, "box-1", ttl=10, now=1_000_000)
            forged = fedecks.make_token(b"another-secret", "box-1", ttl=3600)
            good = fedecks.make_token(key, "box-1", ttl=3600)
            tampered = good[:-2] + (b"AA" if not good.endswith(b"AA") else b"BB")
            foreign = fedecks.make_token(key, "box-2", ttl=3600)
            for token in (expired, forged, tampered, foreign, b"garbage"):
                header = {"x-fedecks-auth": auth_header(**{"fedecks-device-id": "box-1", "fedecks-token": token})}
                assert await refused(s, header) == 403
            assert s.hub.connections == {}

    run(go())


def test_bad_headers_are_refused_with_403():
    async def go():
        async with serve(CONFIG) as s:
            fun = b"\x83" + b"q" + b"\x77\x01m\x77\x01f\x61\x01"  # fun m:f/1: never safe
            cases = [
                {},  # missing
                login(password="wrong"),
                login(username="someone"),
                {"x-fedecks-auth": "not base64 !!"},
                {"x-fedecks-auth": base64.b64encode(etf.dumps([1, 2, 3])).decode()},  # not a map
                {"x-fedecks-auth": auth_header(username="demo", password="demo-password")},  # no device id
                {"x-fedecks-auth": base64.b64encode(fun).decode()},
                {"x-fedecks-auth": "A" * 1024},  # too long
            ]
            for headers in cases:
                assert await refused(s, headers) == 403, headers

    run(go())


def test_unsafe_terms_and_non_terms_go_to_the_raw_handler():
    async def go():
        async with serve(CONFIG) as s:
            ws = await open_ws(s, login(device="raw-box"))
            unknown_atom = b"\x83w\x0bnever_known"
            fun = b"\x83q\x77\x01m\x77\x01f\x61\x01"
            for frame in (unknown_atom, fun, b"not a term", b"\x83\xff"):
                await ws.send(frame)
            await ws.send("text frames are ignored")
            await ws.send(etf.dumps(etf.Atom("ping")))
            # only the ping is answered: the raw frames and the text got nothing
            assert etf.loads(await recv(ws), atoms=["pong"]) == etf.Atom("pong")
            status, body = await http("GET", s.http_url + "/admin/devices/raw-box")
            assert status == 200
            assert body["raw"] == 4
            events = [m["event"] for m in body["last_messages"]]
            assert events == ["raw", "raw", "raw", "raw", "text (ignored)", "term"]
            await ws.close()

    run(go())


def test_terms_echoed_and_answered_as_configured():
    async def go():
        cfg = {"fedecks": {"secret": SECRET, "answers": [
            {"when": {"$tuple": [{"$atom": "status"}, "now"]}, "reply": {"$tuple": [{"$atom": "ok"}, 42]}}]}}
        async with serve(cfg) as s:
            ws = await open_ws(s, login())
            await ws.send(etf.dumps((etf.Atom("status"), b"now")))
            assert etf.loads(await recv(ws), atoms=["ok"]) == (etf.Atom("ok"), 42)
            term = {b"readings": [1, 2.5, -70000, 2 ** 70], b"label": b"box"}
            await ws.send(etf.dumps(term))
            assert etf.loads(await recv(ws)) == term
            await ws.close()

    run(go())


def test_websocket_ping_gets_pong():
    async def go():
        async with serve(CONFIG) as s:
            ws = await open_ws(s, login(device="pinger"))
            waiter = await ws.ping(b"pinger")
            await asyncio.wait_for(waiter, 3)
            await ws.close()

    run(go())


def test_token_refresh_is_pushed_periodically():
    async def go():
        async with serve({"fedecks": {"secret": SECRET, "token_refresh": 0.2}}) as s:
            ws = await open_ws(s, login(device="refresh"))
            tokens = []
            for _ in range(2):
                charlist, token = etf.loads(await recv(ws, timeout=2))
                assert charlist == list(b"token")
                tokens.append(fedecks.verify_token(SECRET.encode(), token))
            assert tokens == ["refresh", "refresh"]
            await ws.close()

    run(go())


def test_admin_pushes_a_term():
    async def go():
        async with serve(CONFIG) as s:
            ws = await open_ws(s, login(device="pushed"))
            status, body = await http("POST", s.http_url + "/admin/devices/pushed/push",
                                      {"term": {"$tuple": [{"$atom": "reply"}, "hi", [1, 2]]}})
            assert status == 200, body
            assert etf.loads(await recv(ws), atoms=["reply"]) == (etf.Atom("reply"), b"hi", [1, 2])
            await ws.close()

    run(go())


def test_credentials_and_tokens_never_in_logs(caplog):
    caplog.set_level(logging.DEBUG)

    async def go():
        async with serve(CONFIG) as s:
            ws = await open_ws(s, login())
            await ws.send(b"\x83k\x00\x0ctoken_please")
            token = etf.loads(await recv(ws))[1]
            await ws.close()
            assert await refused(s, login(password="hunter2-secret")) == 403
            return token

    token = run(go())
    server_log = server_text(caplog)
    assert "fedecks" in server_log
    for secret in ("demo-password", "hunter2-secret", token.decode(), SECRET):
        assert secret not in server_log


def test_random_frames_go_to_the_raw_handler_and_the_session_goes_on(caplog):
    """Seeded random and corrupted terms: each is answered, echoed or handed to the raw
    handler; the session stays open and nothing is logged as an error."""
    import random

    caplog.set_level(logging.WARNING)
    rng = random.Random(11)
    samples = [etf.dumps(t) for t in (
        (etf.Atom("hello"), 1), [1, 2, 3], {b"k": [b"v", 2.5]}, b"bin", 2 ** 80, -3, (), [],
        (etf.Atom("status"), b"x", [(1, 2)]),
    )]

    async def go():
        async with serve(CONFIG) as s:
            ws = await open_ws(s, login(device="fuzzed"))
            for i in range(300):
                data = bytearray(rng.choice(samples))
                for _ in range(rng.randrange(0, 3)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                if rng.random() < 0.1:
                    data = bytearray(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
                await ws.send(bytes(data))
                await ws.send(etf.dumps(etf.Atom("ping")))
                for _ in range(3):  # an echo may come first, then the pong
                    if await recv(ws) == etf.dumps(etf.Atom("pong")):
                        break
                else:
                    raise AssertionError(f"no pong after frame {i}: {bytes(data).hex()}")
            status, body = await http("GET", s.http_url + "/admin/devices/fuzzed")
            assert status == 200 and body["raw"] > 0
            await ws.close()

    run(go(), timeout=60)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_auth_header_written_by_erlang_is_accepted():
    erl = shutil.which("erl")
    assert erl, "Erlang/OTP (erlang-nox) is needed for the Fedecks interop check"
    script = ('io:put_chars(base64:encode(term_to_binary(#{<<"fedecks-device-id">> => <<"erl-box">>, '
              '<<"username">> => <<"demo">>, <<"password">> => <<"demo-password">>}))), halt().')
    header = subprocess.run([erl, "-noshell", "-eval", script], capture_output=True, timeout=60,
                            check=True).stdout.decode()

    async def go():
        async with serve(CONFIG) as s:
            ws = await open_ws(s, {"x-fedecks-auth": header})
            await ws.send(etf.dumps(etf.Atom("ping")))
            assert etf.loads(await recv(ws), atoms=["pong"]) == etf.Atom("pong")
            assert "erl-box" in s.hub.connections
            await ws.close()

    run(go())
