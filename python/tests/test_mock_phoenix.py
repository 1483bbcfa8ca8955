"""The mock's Phoenix socket: one test per rule of spec section 2 (and the faults)."""

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

import phoenix_wire as pw
from phoenix_wire.mock.channels import RoomChannel
from phoenix_wire.mock.testing import PhoenixClient, http, serve

V2 = "/socket/websocket?vsn=2.0.0"
V1 = "/socket/websocket"


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def closed_with(client):
    """Wait (bounded) for the server to close; return (code, reason)."""
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(10):
            await client.recv_raw(timeout=3)
    rcvd = info.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, None)


# ---- heartbeats ----------------------------------------------------------------------
def test_heartbeat_v2_exact_reply():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send('[null,"2","phoenix","heartbeat",{}]')
            assert await c.recv_raw() == '[null,"2","phoenix","phx_reply",{"response":{},"status":"ok"}]'

    run(go())


def test_heartbeat_v1_integer_ref_echoed_without_join_ref():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V1) as c:
            await c.send('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}')
            raw = await c.recv_raw()
            assert "join_ref" not in raw
            m = pw.decode(raw, vsn="1.0.0")
            assert (m.topic, m.event, m.ref, m.status, m.response) == ("phoenix", "phx_reply", 0, "ok", {})

    run(go())


def test_v1_reply_is_written_in_jasons_key_order():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V1) as c:
            await c.send('{"ref":0,"payload":{},"event":"heartbeat","topic":"phoenix","join_ref":null}')
            assert await c.recv_raw() == (
                '{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":0,"topic":"phoenix"}')

    run(go())


def test_fragmented_message_is_reassembled():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.ws.send(['[null,"f1","pho', 'enix","heart', 'beat",{}]'])  # three frames
            m = await c.recv()
            assert (m.ref, m.status) == ("f1", "ok")

    run(go())


def test_frames_sent_before_the_101_are_not_lost():
    async def go():
        async with serve() as s:
            reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
            frame = b'[null,"early","phoenix","heartbeat",{}]'
            masked = bytes(b ^ k for b, k in zip(frame, b"\x01\x02\x03\x04" * 20))
            writer.write(b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n\r\n"
                         + bytes([0x81, 0x80 | len(frame)]) + b"\x01\x02\x03\x04" + masked)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
            assert head.startswith(b"HTTP/1.1 101")
            first = await asyncio.wait_for(reader.readexactly(2), 3)
            assert first[0] == 0x81
            body = await asyncio.wait_for(reader.readexactly(first[1]), 3)
            assert body == b'[null,"early","phoenix","phx_reply",{"response":{},"status":"ok"}]'
            writer.close()

    run(go())


def test_heartbeat_is_handled_before_channel_lookup():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            # nothing is joined, yet topic phoenix answers (any join_ref)
            await c.send(["9", "h1", "phoenix", "heartbeat", {}])
            m = await c.recv()
            assert (m.ref, m.status, m.join_ref) == ("h1", "ok", None)

    run(go())


# ---- V1 / V2 envelope rules ----------------------------------------------------------------
def test_v1_missing_key_closes_only_that_connection():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V1) as bad, PhoenixClient(s.ws_url + V2) as good:
            await bad.send('{"topic":"phoenix","event":"heartbeat","payload":{}}')  # no "ref"
            code, reason = await closed_with(bad)
            assert code == 1007 and "malformed frame" in reason
            await good.send([None, "1", "phoenix", "heartbeat", {}])
            assert (await good.recv()).status == "ok"

    run(go())


def test_v1_non_object_is_an_error():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V1) as c:
            await c.send('[null,"1","phoenix","heartbeat",{}]')
            code, _ = await closed_with(c)
            assert code == 1007

    run(go())


def test_v1_extra_keys_ignored_and_any_payload_value():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V1) as c:
            await c.send('{"topic":"room:v1","event":"phx_join","payload":{},"ref":"1","extra":[1,2]}')
            assert (await c.recv()).status == "ok"
            await c.send('{"topic":"room:v1","event":"shout","payload":"m","ref":"2"}')
            b = await c.recv()
            assert (b.event, b.payload, b.ref) == ("shout", "m", None)
            assert (await c.recv()).status == "ok"

    run(go())


def test_v2_extra_elements_ignored():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send('[null,"1","phoenix","heartbeat",{},"extra",7]')
            assert (await c.recv()).status == "ok"

    run(go())


def test_v2_too_few_elements_closes_with_reason():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send('[null,"1","phoenix","heartbeat"]')
            code, reason = await closed_with(c)
            assert code == 1007
            assert "TooFewElements" in reason and "offset" in reason

    run(go())


def test_v2_object_frame_is_an_error():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}')
            code, _ = await closed_with(c)
            assert code == 1007

    run(go())


def test_invalid_utf8_text_closes_1007():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            # a text frame with bytes that are not UTF-8: sent through the protocol directly
            c.ws.protocol.send_text(b'[null,"1","ph\xff","heartbeat",{}]')
            for data in c.ws.protocol.data_to_send():
                c.ws.transport.write(data)
            code, _ = await closed_with(c)
            assert code == 1007

    run(go())


def test_refs_echoed_as_sent():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            for ref in (7, "7", None):
                await c.send([None, ref, "phoenix", "heartbeat", {}])
                assert (await c.recv()).ref == ref

    run(go())


def test_escaped_topic_is_unescaped():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send('["1","1","room:caf\\u00e9","phx_join",{}]')
            m = await c.recv()
            assert (m.topic, m.status) == ("room:café", "ok")

    run(go())


# ---- joins ---------------------------------------------------------------------------------
def test_join_reply_carries_join_ref_and_ref():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send(["3", "4", "room:a", "phx_join", {}])
            m = await c.recv()
            assert (m.join_ref, m.ref, m.topic, m.event, m.status, m.response) == (
                "3", "4", "room:a", "phx_reply", "ok", {})

    run(go())


def test_join_unknown_topic_is_unmatched_with_null_join_ref():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send(["1", "1", "nowhere", "phx_join", {}])
            m = await c.recv()
            assert (m.join_ref, m.ref, m.status, m.response) == (None, "1", "error", {"reason": "unmatched topic"})

    run(go())


def test_join_refused_by_channel():
    async def go():
        async with serve({"rooms": {"deny": ["room:private"]}}) as s, PhoenixClient(s.ws_url + V2) as c:
            m = await c.join("room:private")
            assert (m.join_ref, m.status, m.response) == ("1", "error", {"reason": "unauthorized"})
            await c.send(["1", "2", "room:private", "x", {}])
            assert (await c.recv()).response == {"reason": "unmatched topic"}

    run(go())


def test_join_crash_replies_join_crashed(monkeypatch):
    def boom(self, params):
        raise RuntimeError("crash in join")

    monkeypatch.setattr(RoomChannel, "join", boom)

    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            m = await c.join("room:a")
            assert (m.status, m.response) == ("error", {"reason": "join crashed"})

    run(go())


def test_duplicate_join_closes_old_channel_and_joins_anew():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            assert (await c.join("room:d", join_ref="1")).status == "ok"
            await c.send(["5", "5", "room:d", "phx_join", {}])
            first, second = await c.recv(), await c.recv()
            # Phoenix writes the new join's reply, then the queued phx_close of the old one
            assert (first.event, first.join_ref, first.status) == ("phx_reply", "5", "ok")
            assert (second.event, second.join_ref, second.ref, second.payload) == ("phx_close", "1", "1", {})
            await c.send(["1", "6", "room:d", "echo", {"old": True}])  # stale now: dropped
            await c.send(["5", "7", "room:d", "echo", {"new": True}])
            m = await c.recv()
            assert (m.ref, m.response) == ("7", {"new": True})

    run(go())


# ---- messages on topics ---------------------------------------------------------------------
def test_unjoined_topic_gets_unmatched_topic():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send(["1", "2", "room:never", "shout", {}])
            m = await c.recv()
            assert (m.join_ref, m.ref, m.topic, m.status, m.response) == (
                None, "2", "room:never", "error", {"reason": "unmatched topic"})

    run(go())


def test_stale_join_ref_dropped_null_join_ref_accepted():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.join("room:s", join_ref="1")
            await c.send(["99", "2", "room:s", "echo", {"n": 2}])  # stale: no reply at all
            await c.send([None, "3", "room:s", "echo", {"n": 3}])  # null join_ref: accepted
            m = await c.recv()
            assert (m.ref, m.join_ref, m.response) == ("3", "1", {"n": 3})
            assert s.hub.connections[next(iter(s.hub.connections))].stale_dropped == 1

    run(go())


def test_leave_replies_ok_then_phx_close():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.join("room:l", join_ref="4")
            await c.send(["4", "8", "room:l", "phx_leave", {}])
            reply, close = await c.recv(), await c.recv()
            assert (reply.join_ref, reply.ref, reply.status, reply.response) == ("4", "8", "ok", {})
            assert close.event == "phx_close"
            assert (close.join_ref, close.ref, close.topic, close.payload) == ("4", "4", "room:l", {})
            await c.send(["4", "9", "room:l", "shout", {}])
            assert (await c.recv()).response == {"reason": "unmatched topic"}

    run(go())


def test_leave_of_unjoined_topic_is_ok():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send(["2", "3", "room:x", "phx_leave", {}])
            m = await c.recv()
            assert (m.join_ref, m.ref, m.status) == ("2", "3", "ok")

    run(go())


def test_channel_crash_sends_phx_error():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2 + "&identifier=crashy") as c:
            await c.join("room:c", join_ref="6")
            status, body = await http("POST", s.http_url + "/admin/devices/crashy/crash", {"topic": "room:c"})
            assert status == 200, body
            m = await c.recv()
            assert (m.join_ref, m.ref, m.topic, m.event) == ("6", "6", "room:c", "phx_error")
            await c.send(["6", "7", "room:c", "shout", {}])
            assert (await c.recv()).response == {"reason": "unmatched topic"}

    run(go())


def test_handle_in_exception_is_a_channel_crash(monkeypatch):
    def boom(self, event, msg):
        raise ValueError("bug")

    monkeypatch.setattr(RoomChannel, "handle_in", boom)

    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.join("room:c", join_ref="2")
            await c.send(["2", "3", "room:c", "shout", {}])
            m = await c.recv()
            assert (m.event, m.join_ref, m.ref) == ("phx_error", "2", "2")

    run(go())


def test_room_broadcast_reaches_v1_and_v2_members():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as a, PhoenixClient(s.ws_url + V1) as b:
            await a.join("room:b", join_ref="1")
            await b.send({"topic": "room:b", "event": "phx_join", "payload": {}, "ref": "1"})
            assert (await b.recv()).status == "ok"
            await a.send(["1", "2", "room:b", "shout", {"hello": "world"}])
            got_a = [await a.recv(), await a.recv()]
            got_b = await b.recv_raw()
            events = {(m.event, m.join_ref, m.ref) for m in got_a}
            assert events == {("shout", None, None), ("phx_reply", "1", "2")}
            assert "join_ref" not in got_b
            mb = pw.decode(got_b, vsn="1.0.0")
            assert (mb.topic, mb.event, mb.payload, mb.ref) == ("room:b", "shout", {"hello": "world"}, None)

    run(go())


# ---- binary frames ------------------------------------------------------------------------
def test_binary_push_broadcast_as_kind_2():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as a, PhoenixClient(s.ws_url + V2) as b:
            await a.join("room:bin", join_ref="1")
            await b.join("room:bin", join_ref="1")
            await a.send(pw.encode_binary("1", "2", "room:bin", "blob", b"\x00\x01\xff", direction="to_server"))
            frames = [await a.recv_raw(), await a.recv_raw()]
            binary = [f for f in frames if isinstance(f, bytes)]
            assert binary == [bytes([2, 8, 4]) + b"room:binblob\x00\x01\xff"]
            reply = pw.decode([f for f in frames if isinstance(f, str)][0])
            assert (reply.ref, reply.status) == ("2", "ok")
            m = pw.decode(await b.recv_raw(), direction="to_client")
            assert (m.topic, m.event, bytes(m.payload)) == ("room:bin", "blob", b"\x00\x01\xff")

    run(go())


def test_binary_echo_gets_a_binary_reply():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.join("room:e", join_ref="3")
            await c.send(pw.encode_binary("3", "4", "room:e", "echo", b"\x00raw\xff", direction="to_server"))
            raw = await c.recv_raw()
            assert raw == bytes([1, 1, 1, 6, 2]) + b"34room:eok\x00raw\xff"
            m = pw.decode(raw, direction="to_client")
            assert (m.join_ref, m.ref, m.event, m.status, m.response) == ("3", "4", "phx_reply", "ok", b"\x00raw\xff")

    run(go())


def test_binary_frame_on_v1_socket_closes_1003():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V1) as c:
            await c.send(b"\x00\x00\x01\x07\x09phoenixheartbeat")
            code, _ = await closed_with(c)
            assert code == 1003

    run(go())


def test_malformed_binary_frame_closes_1007():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send(b"\x07\x01\x02")
            code, reason = await closed_with(c)
            assert code == 1007 and "malformed frame" in reason

    run(go())


# ---- limits, vsn, idle ----------------------------------------------------------------------
def test_oversized_frame_closes_1009_and_others_carry_on():
    async def go():
        async with serve(max_frame_size=4096) as s, PhoenixClient(s.ws_url + V2) as big, \
                PhoenixClient(s.ws_url + V2) as other:
            await big.send('[null,"1","phoenix","heartbeat",{"pad":"' + "x" * 5000 + '"}]')
            code, _ = await closed_with(big)
            assert code == 1009
            await other.send([None, "1", "phoenix", "heartbeat", {}])
            assert (await other.recv()).status == "ok"

    run(go())


def test_default_max_frame_is_one_mib():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + V2) as c:
            await c.send('[null,"1","phoenix","heartbeat",{"pad":"' + "x" * (1024 * 1024) + '"}]')
            code, _ = await closed_with(c)
            assert code == 1009

    run(go())


@pytest.mark.parametrize("vsn", ["9.0.0", "banana", "2.0"])
def test_unsupported_vsn_refused_at_upgrade(vsn):
    async def go():
        async with serve() as s:
            with pytest.raises(InvalidStatus) as info:
                async with PhoenixClient(s.ws_url + "/socket/websocket?vsn=" + vsn):
                    pass
            assert info.value.response.status_code == 403

    run(go())


def test_idle_timeout_closes_and_heartbeats_keep_alive():
    async def go():
        async with serve(idle_timeout=1.0) as s, PhoenixClient(s.ws_url + V2) as busy, \
                PhoenixClient(s.ws_url + V2) as idle:
            for i in range(10):  # 2 s of heartbeats every 0.2 s: twice the timeout
                await busy.send([None, str(i), "phoenix", "heartbeat", {}])
                assert (await busy.recv()).status == "ok"
                await asyncio.sleep(0.2)
            code, reason = await closed_with(idle)
            assert (code, reason) == (1002, "idle timeout")
            await busy.send([None, "x", "phoenix", "heartbeat", {}])
            assert (await busy.recv()).status == "ok"

    run(go())


def test_client_that_never_finishes_closing_is_cut_off():
    async def go():
        async with serve(idle_timeout=0.3, close_timeout=0.3) as s:
            reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
            writer.write(b"GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
            assert head.startswith(b"HTTP/1.1 101")
            started = asyncio.get_running_loop().time()
            # never answer: the server sends its close frame (1002 "idle timeout"), then drops us
            data = await asyncio.wait_for(reader.read(), 5)
            assert data[:2] == b"\x88\x0e" and data[2:4] == (1002).to_bytes(2, "big")
            assert data[4:16] == b"idle timeout"
            assert asyncio.get_running_loop().time() - started < 3
            writer.close()
            for _ in range(40):
                if not s.hub.connections:
                    break
                await asyncio.sleep(0.05)
            assert s.hub.connections == {}

    run(go())


def test_plain_get_on_socket_path_is_refused():
    async def go():
        async with serve() as s:
            status, _ = await http("GET", s.http_url + V2)
            assert status in (400, 426)
            status, _ = await http("GET", s.http_url + "/nothing")
            assert status == 404

    run(go())


# ---- robustness ------------------------------------------------------------------------------
def test_random_frames_never_crash_the_server(caplog):
    """Seeded random frames (valid, odd and corrupted) on the socket: every one gets an
    answer, silence or a 1003/1007 close; never an internal error, and the server goes on."""
    import logging
    import random

    caplog.set_level(logging.WARNING)
    rng = random.Random(5)
    topics = ["room:r", "device", "console", "nowhere", "phoenix", "room:", ""]
    events = ["phx_join", "phx_leave", "heartbeat", "echo", "shout", "fwup_progress", "up", "x"]
    payloads = [{}, {"data": "d"}, {"value": 5}, [], [1, "a"], "m", 7, None, {"n": {"deep": [1, {}]}}]
    refs = [None, "1", "2", 1, 0, -5, "ʀ"]

    def frame():
        kind = rng.random()
        f = pw.encode(rng.choice(refs), rng.choice(refs), rng.choice(topics), rng.choice(events),
                      rng.choice(payloads))
        if kind < 0.6:
            return f
        if kind < 0.75:
            return pw.encode_binary(rng.choice(["", "1"]), "9", rng.choice(topics[:4]), rng.choice(events),
                                    bytes(rng.randrange(256) for _ in range(rng.randrange(8))))
        data = bytearray(f.encode())
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data) if rng.random() < 0.5 else data.decode("utf-8", "replace")

    async def go():
        codes = []
        async with serve() as s:
            c = await PhoenixClient(s.ws_url + V2).__aenter__()
            for i in range(400):
                # each random frame is followed by a heartbeat: its reply (or the close)
                # says the server is done with the frame
                try:
                    await c.send(frame())
                    await c.send([None, f"hb{i}", "phoenix", "heartbeat", {}])
                    while True:
                        raw = await c.recv_raw(timeout=3)
                        if isinstance(raw, str) and f'"hb{i}"' in raw:
                            break
                except ConnectionClosed as exc:
                    codes.append(exc.rcvd.code if exc.rcvd else None)
                    c = await PhoenixClient(s.ws_url + V2).__aenter__()
            async with PhoenixClient(s.ws_url + V2) as fresh:
                await fresh.send([None, "alive", "phoenix", "heartbeat", {}])
                assert (await fresh.recv()).ref == "alive"
        return codes

    codes = run(go(), timeout=60)
    assert codes, "no corrupted frame closed a connection: the generator is broken"
    assert set(codes) <= {1003, 1007}, codes
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
