"""The official Phoenix JavaScript client (npm phoenix + ws, under Node) against the mock."""

import asyncio
import json
import pathlib
import shutil
import subprocess

from phoenix_wire.mock.testing import serve

JS = pathlib.Path(__file__).resolve().parent / "js"
SCRIPT = JS / "mock_e2e.mjs"

EXPECTED = {
    "vsn_2_0_0", "join_several_topics", "second_socket_joins", "json_reply", "json_broadcast",
    "binary_push_and_broadcast", "binary_reply", "admin_broadcast", "admin_push_update", "admin_lists_topics",
    "leave", "rejoin", "rejoin_after_phx_error", "push_after_rejoin", "heartbeats",
}


def ensure_node_modules():
    """`make test` installs them; a bare pytest run installs them here (bounded)."""
    if (JS / "node_modules" / "phoenix").is_dir() and (JS / "node_modules" / "ws").is_dir():
        return
    npm = shutil.which("npm")
    assert npm, "npm is needed for the Phoenix JS client test"
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=JS, check=True, timeout=300)


def test_phoenix_js_client_end_to_end():
    ensure_node_modules()
    node = shutil.which("node")
    assert node, "node is needed for the Phoenix JS client test"

    async def go():
        async with serve() as s:
            proc = await asyncio.create_subprocess_exec(
                node, str(SCRIPT), s.ws_url, s.http_url, cwd=JS,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            try:
                out, err = await asyncio.wait_for(proc.communicate(), 30)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                raise
            return proc.returncode, out.decode(), err.decode()

    code, out, err = asyncio.run(asyncio.wait_for(go(), 40))
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"no result from node: stdout={out!r} stderr={err!r}"
    result = json.loads(lines[-1])
    assert set(result["checks"]) >= EXPECTED, result
    failed = {k: v for k, v in result["checks"].items() if v is not True}
    assert not failed, (failed, err)
    assert code == 0 and result["ok"] is True
