"""The Rust example device (codec/examples/device_client.rs) against the mock."""

import asyncio
import os
import pathlib
import shutil

from phoenix_wire.mock.testing import serve

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_rust_device_client_receives_pushed_update():
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    assert os.path.exists(cargo), "cargo is needed for the Rust example test"

    async def go():
        async with serve() as s:
            seen = {}
            remove = s.hub.remove

            def remember(conn):  # keep what the server knew about the device when it left
                seen[conn.id] = conn.describe()
                remove(conn)

            s.hub.remove = remember
            url = s.ws_url + "/socket/websocket?vsn=2.0.0&identifier=rust-device-1"
            proc = await asyncio.create_subprocess_exec(
                cargo, "run", "-q", "-p", "phoenix-wire", "--example", "device_client", "--", url, s.http_url,
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            try:
                # generous: the first run may have to build the example
                out, err = await asyncio.wait_for(proc.communicate(), 900)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                raise
            for _ in range(100):  # the server notices the close (bounded)
                if "rust-device-1" in seen:
                    break
                await asyncio.sleep(0.05)
            return proc.returncode, out.decode(), err.decode(), seen

    code, out, err, seen = asyncio.run(asyncio.wait_for(go(), 960))
    assert code == 0, (out, err)
    assert "joined device as rust-device-1" in out
    assert "update received: version 1.5.0" in out
    device = seen["rust-device-1"]
    assert device["firmware"]["nerves_fw_version"] == "1.4.2"
    assert device["firmware"]["device_api_version"] == "2.3.0"
    assert device["device"]["fwup_progress"] == {"value": 100, "stage": "download"}
    assert device["device"]["status_update"] == {"status": "update-received"}
    events = [m["event"] for m in device["last_messages"] if m["direction"] == "in"]
    assert events == ["phx_join", "fwup_progress", "fwup_progress", "fwup_progress", "status_update"]
    assert ("out", "update") in [(m["direction"], m["event"]) for m in device["last_messages"]]
