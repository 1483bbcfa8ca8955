"""``phoenix-wire mock``: config loading, the CLI, the banner and a clean Ctrl-C."""

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from phoenix_wire import cli
from phoenix_wire.mock import config


def test_print_config_is_the_embedded_defaults(capsys):
    assert cli.main(["mock", "--print-config"]) == 0
    assert config._toml_loads(capsys.readouterr().out) == config.DEFAULTS
    assert config.DEFAULTS["endpoint"]["port"] == 4000
    assert config.DEFAULTS["auth"]["port"] == 5000
    assert config.DEFAULTS["endpoint"]["idle_timeout"] == 60.0
    assert config.DEFAULTS["endpoint"]["max_frame_size"] == 1024 * 1024


def test_toml_file_overrides_only_what_it_lists(tmp_path):
    path = tmp_path / "mock.toml"
    path.write_text('[endpoint]\nport = 4100\n[[auth.keys]]\nkey = "k"\nuser_id = 5\nlocation_id = 6\n'
                    'controller_id = 7\n[fedecks]\nusername = "me"\n')
    cfg = config.load(path, {"endpoint": {"idle_timeout": 3.0}})
    assert cfg["endpoint"]["port"] == 4100 and cfg["endpoint"]["host"] == "127.0.0.1"
    assert cfg["endpoint"]["idle_timeout"] == 3.0
    assert cfg["auth"]["keys"] == [{"key": "k", "user_id": 5, "location_id": 6, "controller_id": 7}]
    assert cfg["fedecks"]["username"] == "me" and cfg["fedecks"]["password"] == "demo-password"


def test_unknown_config_key_is_an_error(tmp_path, capsys):
    path = tmp_path / "typo.toml"
    path.write_text("[endpoint]\nprot = 1\n")
    with pytest.raises(ValueError, match="endpoint.prot"):
        config.load(path)
    assert cli.main(["mock", "--config", str(path)]) == 2
    assert "endpoint.prot" in capsys.readouterr().err


def test_subcommands_come_from_one_table():
    names = [c.name for c in cli.SUBCOMMANDS]
    assert "mock" in names
    parser = cli.build_parser()
    args = parser.parse_args(["mock", "--port", "0", "--idle-timeout", "2"])
    assert (args.port, args.idle_timeout, args._run) == (0, 2.0, cli.run_mock)
    with pytest.raises(SystemExit):
        parser.parse_args([])


def test_run_prints_banner_serves_and_stops_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-m", "phoenix_wire.cli", "mock", "--port", "0", "--auth-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            banner.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(banner)
        assert "demo-api-key" in text and "demo-password" in text, text
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/admin", text).group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin", timeout=5) as resp:
            assert json.loads(resp.read())["connections"] == {}
        with connect(f"ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0", open_timeout=5) as ws:
            ws.send('[null,"1","phoenix","heartbeat",{}]')
            assert "phx_reply" in ws.recv(timeout=5)
            proc.send_signal(signal.SIGINT)
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd.code == 1001  # going away
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "shutting down" in out
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_port_in_use_is_reported():
    async def hold():
        return await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)

    loop = asyncio.new_event_loop()
    try:
        server = loop.run_until_complete(hold())
        port = server.sockets[0].getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "phoenix_wire.cli", "mock", "--port", str(port), "--auth-port", "0"],
            capture_output=True, text=True, timeout=15,
        )
        assert proc.returncode == 1
        assert "cannot listen" in proc.stderr
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


def test_banner_warns_when_the_admin_api_is_exposed():
    from phoenix_wire.mock import MockServer

    exposed = MockServer(config.load(overrides={"endpoint": {"host": "0.0.0.0"}}))
    assert "WARNING" in exposed.banner()
    guarded = MockServer(config.load(overrides={"endpoint": {"host": "0.0.0.0", "admin_token": "t"}}))
    assert "WARNING" not in guarded.banner()
    assert "WARNING" not in MockServer(config.load()).banner()
