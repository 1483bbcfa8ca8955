"""The admin HTTP API and the NervesHub device/console channels it drives."""

import asyncio
import socket



from phoenix_wire.mock.testing import PhoenixClient, http, serve

FIRMWARE = {
    "nerves_fw_uuid": "7b2d2e1c-3c5e-4c1b-9a1e-2d3f4a5b6c7d",
    "nerves_fw_version": "1.4.2",
    "nerves_fw_product": "thermostat",
    "nerves_fw_platform": "rpi4",
    "nerves_fw_architecture": "arm",
    "nerves_fw_author": "acme",
    "fwup_version": "1.10.1",
    "device_api_version": "2.3.0",
    "console_version": "2.0.0",
    "currently_downloading_uuid": None,
    "meta": {"firmware_validated": True, "firmware_auto_revert_detected": False},
}
UPDATE = {
    "update_available": True,
    "firmware_url": "http://127.0.0.1:4000/firmware/1.5.0.fw",
    "firmware_meta": {"uuid": "a1", "version": "1.5.0", "product": "thermostat", "platform": "rpi4",
                      "architecture": "arm", "author": "acme", "description": "", "vcs_identifier": "",
                      "misc": ""},
    "deployment_id": 3,
}
DEVICE = "/socket/websocket?vsn=2.0.0&identifier=nh-0001"


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_device_join_progress_and_update_push():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + DEVICE) as c:
            m = await c.join("device", FIRMWARE, join_ref="1")
            assert (m.status, m.response) == ("ok", {})
            await c.send(["1", "2", "device", "fwup_progress", {"value": 42}])
            await c.send(["1", "3", "device", "status_update", {"status": "updating"}])
            # NervesHub does not answer device events: the next frame is the heartbeat reply
            await c.send([None, "4", "phoenix", "heartbeat", {}])
            assert (await c.recv()).ref == "4"
            status, dev = await http("GET", s.http_url + "/admin/devices/nh-0001")
            assert status == 200
            assert dev["kind"] == "phoenix" and dev["vsn"] == "2.0.0"
            assert dev["firmware"] == FIRMWARE
            assert dev["topics"] == {"device": {"join_ref": "1"}}
            assert dev["device"]["fwup_progress"] == {"value": 42}
            assert [x["event"] for x in dev["last_messages"]] == [
                "phx_join", "fwup_progress", "status_update", "heartbeat"]
            status, body = await http("POST", s.http_url + "/admin/devices/nh-0001/push",
                                      {"topic": "device", "event": "update", "payload": UPDATE})
            assert (status, body["pushed"]) == (200, True)
            u = await c.recv()
            assert (u.join_ref, u.ref, u.topic, u.event, u.payload) == ("1", None, "device", "update", UPDATE)
            for event in ("reboot", "identify"):
                await http("POST", s.http_url + "/admin/devices/nh-0001/push", {"event": event})
                assert (await c.recv()).event == event

    run(go())


def test_update_pushed_on_join_when_configured():
    async def go():
        cfg = {"device": {"on_join": [{"event": "update", "payload": UPDATE}]}}
        async with serve(cfg) as s, PhoenixClient(s.ws_url + DEVICE) as c:
            assert (await c.join("device", FIRMWARE)).status == "ok"
            u = await c.recv()
            assert (u.event, u.payload) == ("update", UPDATE)

    run(go())


def test_console_up_recorded_and_dn_pushed():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + DEVICE) as c:
            await c.join("console", {"console_version": "2.0.0"}, join_ref="2")
            await c.send(["2", "3", "console", "up", {"data": "iex(1)> "}])
            await http("POST", s.http_url + "/admin/devices/nh-0001/push",
                       {"topic": "console", "event": "dn", "payload": {"data": "h\r"}})
            dn = await c.recv()
            assert (dn.join_ref, dn.topic, dn.event, dn.payload) == ("2", "console", "dn", {"data": "h\r"})
            status, dev = await http("GET", s.http_url + "/admin/devices/nh-0001")
            assert dev["console"]["output"] == "iex(1)> "

    run(go())


def test_listing_broadcast_and_topics():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + DEVICE) as a, \
                PhoenixClient(s.ws_url + "/socket/websocket?vsn=2.0.0") as b:
            await a.join("room:lobby")
            await b.join("room:lobby")
            await b.join("room:other", join_ref="5")
            status, listing = await http("GET", s.http_url + "/admin/devices")
            assert status == 200
            ids = sorted(d["id"] for d in listing["devices"])
            assert ids[0] == "nh-0001" and ids[1].startswith("socket-")
            status, topics = await http("GET", s.http_url + "/admin/topics")
            assert sorted(topics["topics"]["room:lobby"]) == ids
            status, body = await http("POST", s.http_url + "/admin/broadcast",
                                      {"topic": "room:lobby", "event": "news", "payload": {"n": 1}})
            assert (status, body) == (200, {"delivered": 2})
            for c in (a, b):
                m = await c.recv()
                assert (m.join_ref, m.ref, m.event, m.payload) == (None, None, "news", {"n": 1})
            status, body = await http("POST", s.http_url + "/admin/broadcast",
                                      {"topic": "room:lobby", "event": "blob", "binary": "AAEC"})
            assert body == {"delivered": 2}
            assert await a.recv_raw() == bytes([2, 10, 4]) + b"room:lobbyblob\x00\x01\x02"
            status, summary = await http("GET", s.http_url + "/admin")
            assert summary["connections"] == {"phoenix": 2}

    run(go())


def test_admin_errors():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + DEVICE):
            base = s.http_url + "/admin"
            assert (await http("GET", base + "/devices/nobody"))[0] == 404
            assert (await http("POST", base + "/devices/nh-0001/push", b"{not json"))[0] == 400
            assert (await http("POST", base + "/devices/nh-0001/push", [1, 2]))[0] == 400
            status, body = await http("POST", base + "/devices/nh-0001/push", {"topic": "device", "event": "x"})
            assert status == 409 and "not joined" in body["error"]
            assert (await http("POST", base + "/broadcast", {"topic": 1}))[0] == 400
            assert (await http("POST", base + "/devices/nh-0001/push", {"event": "x", "binary": "%%%"}))[0] == 400
            status, body = await http("POST", base + "/broadcast",
                                      {"topic": "room:" + "x" * 300, "event": "e", "binary": "AA=="})
            assert status == 200 and body == {"delivered": 0}  # no members: nothing to encode
            async with PhoenixClient(s.ws_url + "/socket/websocket?vsn=2.0.0") as c:
                await c.join("room:" + "x" * 300)
                status, body = await http("POST", base + "/broadcast",
                                          {"topic": "room:" + "x" * 300, "event": "e", "binary": "AA=="})
                assert status == 400 and "too long" in body["error"]
            assert (await http("GET", base + "/broadcast"))[0] == 405
            assert (await http("DELETE", base + "/devices"))[0] == 405
            assert (await http("GET", base + "/nowhere"))[0] == 404

    run(go())


def test_admin_token_required_when_configured():
    async def go():
        async with serve(admin_token="s3cret") as s:
            assert (await http("GET", s.http_url + "/admin/devices"))[0] == 401
            status, _ = await http("GET", s.http_url + "/admin/devices", headers={"Authorization": "Bearer s3cret"})
            assert status == 200

    run(go())


def test_disconnect_through_admin():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + DEVICE) as c:
            await http("POST", s.http_url + "/admin/devices/nh-0001/disconnect", {"reason": "bye"})
            try:
                await c.recv_raw(timeout=3)
                raise AssertionError("socket stayed open")
            except Exception as exc:  # ConnectionClosed with the server's code
                assert getattr(exc, "rcvd", None) is not None and exc.rcvd.code == 1000
            for _ in range(50):
                if not s.hub.connections:
                    break
                await asyncio.sleep(0.05)
            assert s.hub.connections == {}

    run(go())


def test_garbage_http_gets_400_and_server_carries_on():
    async def go():
        async with serve() as s:
            def raw_exchange(data):
                with socket.create_connection(("127.0.0.1", s.port), timeout=3) as sock:
                    sock.sendall(data)
                    return sock.recv(200)

            assert b" 400 " in await asyncio.to_thread(raw_exchange, b"NONSENSE\r\n\r\n")
            assert b" 431 " in await asyncio.to_thread(raw_exchange, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
            status, _ = await http("GET", s.http_url + "/admin")
            assert status == 200

    run(go())
