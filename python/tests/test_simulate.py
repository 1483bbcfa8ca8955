"""`phoenix-wire simulate` against the mock server (in-process, 127.0.0.1, ephemeral ports)."""

import asyncio
import io
import json
import pathlib
import sys
import time

import pytest

from phoenix_wire.mock.testing import serve
from phoenix_wire.tools.simulate import Options, simulate
from phoenix_wire.tools.simulate.profiles import build_url
from phoenix_wire.tools.simulate.progress import ProgressBar, render_summary
from phoenix_wire.tools.simulate.stats import Stats, percentile

HERE = pathlib.Path(__file__).parent


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


# ---- pieces -----------------------------------------------------------------------------
def test_percentile_is_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_build_url_adds_the_profile_path_and_keeps_what_is_given():
    assert build_url("ws://127.0.0.1:4000", "/socket/websocket", {"vsn": "2.0.0"}) == (
        "ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0"
    )
    assert build_url("ws://127.0.0.1:4000/", "/x", {}) == "ws://127.0.0.1:4000/x"
    assert build_url("ws://h:1/custom/websocket?vsn=1.0.0&a=b", "/socket/websocket", {"vsn": "2.0.0", "s": "1"}) == (
        "ws://h:1/custom/websocket?vsn=1.0.0&a=b&s=1"
    )
    with pytest.raises(ValueError):
        build_url("http://127.0.0.1:4000", "/socket/websocket", {})


def row(table, label):
    """The value column of the summary table's row `label`."""
    for line in table.splitlines():
        if line.strip().startswith(label + "  "):
            return line.strip()[len(label) :].strip()
    raise AssertionError(f"no row {label!r} in\n{table}")


def test_summary_table_lists_every_figure():
    stats = Stats(3)
    now = time.monotonic()
    stats.on_connected(now)
    stats.failed = 2
    stats.on_send(now)
    stats.on_round_trip("heartbeat", 0.004, now + 0.01)
    stats.on_error("http_401")
    stats.on_error("http_401")
    text = render_summary(stats.summary(profile="nerves-hub", url="ws://x"))
    for label, value in (
        ("connected", "1"),
        ("failed", "2"),
        ("messages sent", "1"),
        ("round trip p99", "4.00 ms"),
        ("http_401", "2"),
        ("errors", "2"),
    ):
        assert row(text, label) == value, label


def test_setup_and_steady_round_trips_are_reported_apart():
    stats = Stats(2)
    t = time.monotonic()
    stats.on_round_trip("join", 0.500, t)  # a join that queued behind the connect storm
    stats.on_connected(t)
    stats.on_round_trip("heartbeat", 0.200, t + 0.1)  # sent before the fleet was complete
    stats.on_connected(t + 0.2)
    stats.on_round_trip("heartbeat", 0.002, t + 0.3)
    s = stats.summary()
    assert s["round_trips"] == 3 and s["round_trips_by_kind"] == {"heartbeat": 2, "join": 1}
    assert s["setup_rtt_ms"]["count"] == 1 and s["setup_rtt_ms"]["p99"] == 500.0
    assert s["rtt_ms"]["count"] == 2 and s["rtt_ms"]["max"] == 200.0
    assert s["rtt_ms_steady"]["count"] == 1 and s["rtt_ms_steady"]["p99"] == 2.0
    table = render_summary(s)
    assert row(table, "setup (join/token)").startswith("p50 500.00 / p95 500.00 / p99 500.00 ms")


def test_progress_bar_draws_only_on_a_terminal():
    async def go():
        stats = Stats(5)
        stats.on_connected(time.monotonic())
        quiet = io.StringIO()
        bar = ProgressBar(stats, 1.0, quiet, interval=0.01)
        bar.start()
        await asyncio.sleep(0.05)
        await bar.stop()
        loud = io.StringIO()
        bar = ProgressBar(stats, 1.0, loud, interval=0.01, force=True)
        bar.start()
        await asyncio.sleep(0.05)
        await bar.stop()
        return quiet.getvalue(), loud.getvalue()

    quiet, loud = run(go())
    assert quiet == ""
    assert "up 1/5" in loud and "[" in loud
    assert loud.endswith("\r\x1b[2K")  # the line is cleared for the summary


# ---- fleets against the mock --------------------------------------------------------------
async def fleet(server, profile, *, devices=8, rate=10.0, duration=1.5, **kw):
    """Runs a fleet and watches how many connections the mock held at once."""
    peak = 0

    async def watch():
        nonlocal peak
        while True:
            peak = max(peak, len(server.hub.connections))
            await asyncio.sleep(0.02)

    watcher = asyncio.ensure_future(watch())
    try:
        summary = await simulate(
            Options(
                url=server.ws_url,
                profile=profile,
                devices=devices,
                rate=rate,
                duration=duration,
                timeout=3.0,
                seed=1,
                **kw,
            )
        )
    finally:
        watcher.cancel()
    return summary, peak


def assert_clean(summary, devices):
    assert summary["connected"] == devices, summary
    assert summary["failed"] == 0 and summary["dropped"] == 0
    assert summary["errors"] == {}, summary["errors"]


def test_nerves_hub_fleet_joins_heartbeats_and_reports_progress():
    async def go():
        async with serve() as server:
            summary, peak = await fleet(server, "nerves-hub", devices=8, rate=10.0, duration=1.5, keepalive=0.5)
            return summary, peak

    summary, peak = run(go())
    assert_clean(summary, 8)
    assert peak == 8
    kinds = summary["round_trips_by_kind"]
    assert kinds["join"] == 16  # device and console, per device
    # 10 ticks/s for 1.5 s, randomly phased: 14 or 15 heartbeats per device
    # (fewer if setup is slow on a busy machine), plus 2 or 3 keepalives.
    assert 8 * 12 <= kinds["heartbeat"] <= 8 * 18
    # Device events get no reply: sent, never timed.
    events = summary["messages_sent"] - summary["round_trips"]
    assert 8 * 2 <= events <= 8 * 3
    assert summary["messages_received"] == summary["round_trips"]
    assert summary["rtt_ms"]["p50"] is not None and summary["rtt_ms"]["p50"] <= summary["rtt_ms"]["p99"]


def test_microcontroller_fleet_uploads_readings_the_mock_stores():
    async def go():
        async with serve() as server:
            summary, peak = await fleet(server, "microcontroller", devices=6, rate=8.0, duration=1.5)
            stored = sum(len(v) for v in server.hub.readings.values())
            return summary, peak, stored

    summary, peak, stored = run(go())
    assert_clean(summary, 6)
    assert peak == 6
    uploads = summary["round_trips_by_kind"]["upload_readings"]
    assert uploads == stored and 6 * 9 <= uploads <= 6 * 12
    # metadata push per device, then one reply per request.
    assert summary["messages_received"] == summary["round_trips"] + 6


def test_wrong_api_key_fails_every_device_with_401():
    async def go():
        async with serve() as server:
            return await simulate(
                Options(
                    url=server.ws_url,
                    profile="microcontroller",
                    devices=5,
                    rate=5,
                    duration=1.0,
                    timeout=3.0,
                    api_key="wrong",
                )
            )

    summary = run(go())
    assert summary["connected"] == 0 and summary["failed"] == 5
    assert summary["errors"] == {"http_401": 5}


def test_fedecks_fleet_gets_tokens_echoes_and_pongs():
    async def go():
        async with serve() as server:
            return await fleet(server, "fedecks", devices=6, rate=10.0, duration=1.5, keepalive=0.5)

    summary, peak = run(go())
    assert_clean(summary, 6)
    assert peak == 6
    kinds = summary["round_trips_by_kind"]
    assert kinds["token"] == 6
    # 10 ticks/s for 1.5 s: 14 or 15 per device, every 10th a :ping.
    assert 6 * 12 <= kinds["reading"] + kinds["ping"] <= 6 * 15
    assert 6 * 1 <= kinds["ping"] <= 6 * 2
    # Websocket pings every 0.5 s, answered by pongs (control frames, not messages).
    assert 6 * 2 <= kinds["ws_ping"] <= 6 * 3
    assert summary["messages_received"] == summary["round_trips"] - kinds["ws_ping"]


def test_fedecks_wrong_password_is_refused_at_the_upgrade():
    async def go():
        async with serve() as server:
            return await simulate(
                Options(
                    url=server.ws_url, profile="fedecks", devices=3, rate=5, duration=1.0, timeout=3.0, password="nope"
                )
            )

    summary = run(go())
    assert summary["failed"] == 3 and summary["errors"] == {"http_403": 3}


# ---- bounded whatever the server does -------------------------------------------------------
def test_nothing_listening_fails_fast():
    async def go():
        # Find a free port and leave it closed.
        srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()
        t0 = time.monotonic()
        summary = await simulate(Options(url=f"ws://127.0.0.1:{port}", devices=4, duration=5.0, timeout=2.0))
        return summary, time.monotonic() - t0

    summary, took = run(go())
    assert summary["failed"] == 4 and summary["errors"] == {"connect_refused": 4}
    assert took < 3.0


def test_a_server_that_never_answers_is_bounded_by_the_timeout():
    async def go():
        held = []

        async def silent(reader, writer):
            held.append(writer)  # accept the TCP connection, never answer the upgrade

        srv = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        t0 = time.monotonic()
        try:
            summary = await simulate(Options(url=f"ws://127.0.0.1:{port}", devices=3, duration=10.0, timeout=1.0))
        finally:
            for w in held:
                w.close()
            srv.close()
        return summary, time.monotonic() - t0

    summary, took = run(go())
    assert summary["failed"] == 3 and summary["errors"] == {"connect_timeout": 3}
    assert took < 3.0


def test_a_channel_that_never_replies_counts_join_timeouts():
    from websockets.asyncio.server import serve as ws_serve

    async def go():
        async def mute(ws):
            async for _ in ws:  # read everything, answer nothing
                pass

        async with ws_serve(mute, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            t0 = time.monotonic()
            summary = await simulate(Options(url=f"ws://127.0.0.1:{port}", devices=3, duration=5.0, timeout=0.5))
            return summary, time.monotonic() - t0

    summary, took = run(go())
    assert summary["failed"] == 3 and summary["errors"] == {"join_timeout": 3}
    assert took < 3.0


def test_the_command_prints_json_and_exits_zero_on_a_clean_run():
    async def go():
        async with serve() as server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "phoenix_wire.cli",
                "simulate",
                server.ws_url,
                "--profile",
                "nerves-hub",
                "--devices",
                "5",
                "--rate",
                "5",
                "--duration",
                "1",
                "--json",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=HERE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 30)
            return proc.returncode, out.decode(), err.decode()

    status, out, err = run(go())
    assert status == 0, err
    summary = json.loads(out)
    assert summary["connected"] == 5 and summary["errors"] == {}
    assert summary["profile"] == "nerves-hub" and summary["url"].endswith("vsn=2.0.0&serial=sim-NNNNN")
    # stderr is not a terminal here: no progress line.
    assert err == ""


def test_the_command_exits_one_and_prints_the_table_when_devices_fail():
    async def go():
        async with serve() as server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "phoenix_wire.cli",
                "simulate",
                server.ws_url,
                "--profile",
                "microcontroller",
                "--api-key",
                "nope",
                "--devices",
                "2",
                "--duration",
                "1",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=HERE,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            return proc.returncode, out.decode()

    status, out = run(go())
    assert status == 1
    assert row(out, "failed") == "2" and row(out, "http_401") == "2"


# ---- the simulator's websocket client ---------------------------------------------------------
def test_wsclient_reassembles_fragments_answers_pings_and_reports_the_close_code():
    from websockets.asyncio.server import serve as ws_serve

    from phoenix_wire.tools.simulate import wsclient

    async def go():
        got, closed = [], []

        async def server(ws):
            await ws.send(["frag", "mented ", "text"])  # three frames, one message
            await ws.send(b"\x00\x01binary")
            await ws.ping(b"server-ping")  # answered by the client's protocol
            assert await ws.recv() == "echo me"
            await ws.close(4001, "bye")

        async with ws_serve(server, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            client = await wsclient.connect(
                f"ws://127.0.0.1:{port}/",
                [("X-Test", "1")],
                lambda data, is_text: got.append((data, is_text)),
                on_close=closed.append,
                timeout=5,
            )
            pong = client.ping(b"client-ping")
            await asyncio.wait_for(pong, 5)
            client.send_text("echo me".encode())
            await asyncio.wait_for(asyncio.shield(client.closed), 5)
        return got, closed

    got, closed = run(go())
    assert got == [(b"fragmented text", True), (b"\x00\x01binary", False)]
    assert closed == [4001]


def test_wsclient_refused_upgrade_raises_with_the_status():
    import websockets.exceptions as wse

    from phoenix_wire.tools.simulate import wsclient

    async def go():
        async with serve() as server:
            with pytest.raises(wse.InvalidStatus) as info:
                await wsclient.connect(
                    server.ws_url + "/microcontrollers/websocket", [("X-API-Key", "nope")], lambda d, t: None
                )
            return info.value.response.status_code

    assert run(go()) == 401
