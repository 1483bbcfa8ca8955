"""The microcontroller socket and the auth service (spec section 5)."""

import asyncio
import logging

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

import phoenix_wire as pw
from phoenix_wire.mock.auth import AuthError, check_key
from phoenix_wire.mock.testing import PhoenixClient, http, serve

PATH = "/microcontrollers/websocket"
KEY = "demo-api-key"


def server_text(caplog):
    """Everything the server side logged (the test's own websockets client logs its headers)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client"))


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_auth_service_answers_identity_or_401():
    async def go():
        async with serve() as s:
            url = f"http://127.0.0.1:{s.auth_port}/api/auth"
            assert await http("GET", url, headers={"X-API-Key": KEY}) == (
                200, {"user_id": 1, "location_id": 1, "controller_id": 1})
            status, body = await http("GET", url, headers={"X-API-Key": "nope"})
            assert (status, body) == (401, {"error": "invalid api key"})
            assert (await http("GET", url))[0] == 401
            assert (await http("GET", f"http://127.0.0.1:{s.auth_port}/other"))[0] == 404
            assert (await check_key(url, "demo-api-key-2", 3))["controller_id"] == 2
            assert await check_key(url, "wrong", 3) is None

    run(go())


def test_good_key_gets_metadata_then_joins_uploads_and_heartbeats():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + PATH, headers={"X-API-Key": KEY}) as c:
            raw = await c.recv_raw()
            meta = pw.decode(raw, vsn="1.0.0")
            assert (meta.topic, meta.event, meta.ref, meta.payload) == (
                "microcontroller:1", "metadata", None, {"user_id": 1, "location_id": 1, "controller_id": 1})
            assert "join_ref" not in raw  # a V1 object frame
            await c.send('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":0}')
            hb = await c.recv()
            assert (hb.ref, hb.status) == (0, "ok")
            await c.send({"topic": "microcontroller:v1:1", "event": "phx_join", "payload": {}, "ref": "1"})
            assert (await c.recv()).status == "ok"
            readings = {"sensor-7": [{"type": "temperature", "value": "21.5"}, {"type": "humidity", "value": "40"}]}
            await c.send({"topic": "microcontroller:v1:1", "event": "upload_readings", "payload": readings, "ref": "2"})
            up = await c.recv()
            assert (up.ref, up.status) == ("2", "ok")
            status, body = await http("GET", s.http_url + "/admin/readings")
            assert status == 200
            assert body["readings"]["microcontroller:1"][-1]["readings"] == readings
            # control updates are pushed through the admin API
            control = {"control": [{"fan-1": 1}, {"valve-2": 0.5}]}
            status, body = await http("POST", s.http_url + "/admin/devices/microcontroller:1/push",
                                      {"event": "control_update", "payload": control})  # its only topic
            assert status == 200, body
            push = await c.recv()
            assert (push.topic, push.event, push.payload, push.ref) == (
                "microcontroller:v1:1", "control_update", control, None)

    run(go())


def test_other_controllers_topic_is_refused():
    async def go():
        async with serve() as s, PhoenixClient(s.ws_url + PATH, headers={"X-API-Key": KEY}) as c:
            await c.recv()  # metadata
            await c.send({"topic": "microcontroller:v1:2", "event": "phx_join", "payload": {}, "ref": "1"})
            m = await c.recv()
            assert (m.status, m.response) == ("error", {"reason": "unauthorized"})

    run(go())


@pytest.mark.parametrize("headers", [{"X-API-Key": "bad-key"}, {}, {"X-API-Key": ""},
                                     [("X-API-Key", KEY), ("X-API-Key", "bad-key")]])
def test_bad_or_missing_key_is_401_at_upgrade(headers):
    async def go():
        async with serve() as s:
            with pytest.raises(InvalidStatus) as info:
                async with PhoenixClient(s.ws_url + PATH, headers=headers):
                    pass
            assert info.value.response.status_code == 401
            assert s.hub.connections == {}

    run(go())


def test_unreachable_auth_service_is_502():
    async def go():
        async with serve({"auth": {"enabled": False, "url": "http://127.0.0.1:9/api/auth", "timeout": 2.0}}) as s:
            with pytest.raises(InvalidStatus) as info:
                async with PhoenixClient(s.ws_url + PATH, headers={"X-API-Key": KEY}):
                    pass
            assert info.value.response.status_code == 502
            with pytest.raises(AuthError):
                await check_key("http://127.0.0.1:9/api/auth", KEY, 2)

    run(go())


def test_keys_never_in_logs(caplog):
    caplog.set_level(logging.DEBUG)

    async def go():
        async with serve() as s:
            async with PhoenixClient(s.ws_url + PATH, headers={"X-API-Key": KEY}) as c:
                await c.recv()
            with pytest.raises(InvalidStatus):
                async with PhoenixClient(s.ws_url + PATH, headers={"X-API-Key": "secret-wrong-key"}):
                    pass

    run(go())
    server_log = server_text(caplog)
    assert "microcontroller" in server_log  # something was logged
    assert KEY not in server_log and "secret-wrong-key" not in server_log


def test_microcontroller_idle_timeout_is_its_own():
    async def go():
        cfg = {"microcontroller": {"idle_timeout": 0.4}, "endpoint": {"idle_timeout": 30.0}}
        async with serve(cfg) as s, PhoenixClient(s.ws_url + PATH, headers={"X-API-Key": KEY}) as c:
            await c.recv()  # metadata
            with pytest.raises(ConnectionClosed) as info:
                for _ in range(5):
                    await c.recv_raw(timeout=3)
            assert (info.value.rcvd.code, info.value.rcvd.reason) == (1002, "idle timeout")

    run(go())


def test_readings_are_kept_per_controller_across_connections_and_bounded():
    async def joined(s):
        c = PhoenixClient(s.ws_url + PATH, headers={"X-API-Key": KEY})
        await c.__aenter__()
        await c.recv_raw()  # metadata
        await c.send({"topic": "microcontroller:v1:1", "event": "phx_join", "payload": {}, "ref": "j"})
        assert (await c.recv()).status == "ok"
        return c

    async def upload(c, refs):
        for ref in refs:
            await c.send({"topic": "microcontroller:v1:1", "event": "upload_readings",
                          "payload": {"s": [{"type": "t", "value": ref}]}, "ref": ref})
            assert (await c.recv()).ref == ref

    async def go():
        async with serve() as s:
            # Two connections of one controller at once: two connection ids.
            first, second = await joined(s), await joined(s)
            try:
                await upload(first, ["0", "1"])
                await upload(second, ["2", "3"])
            finally:
                await second.__aexit__(None, None, None)
                await first.__aexit__(None, None, None)
            status, body = await http("GET", s.http_url + "/admin/readings")
            assert status == 200 and list(body["readings"]) == ["microcontroller:1"]
            values = [r["readings"]["s"][0]["value"] for r in body["readings"]["microcontroller:1"]]
            assert values == ["0", "1", "2", "3"]
            for i in range(1100):  # the log keeps the newest 1000 uploads
                s.hub.store_readings("microcontroller:1", {"i": i})
            log = s.hub.readings["microcontroller:1"]
            assert len(log) == 1000 and log[-1]["readings"] == {"i": 1099}

    run(go())
