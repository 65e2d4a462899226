"""deploy/mosquitto/: the users script makes a password file and an ACL that
Mosquitto takes, and the example configuration, with them, lets operators
command and keeps viewers and strangers out."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from hil.telemetry.acl import Acl, read_password_file, verify_password
from hil.telemetry.brokers import free_port, mosquitto_executable, wait_listening
from hil.telemetry.mqtt import client_for
from hil.telemetry.topics import BrokerUrl

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


def _make_users(tmp_path: Path) -> dict[str, tuple[str, str]]:
    if shutil.which("mosquitto_passwd") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("mosquitto_passwd is missing in CI")
        pytest.skip("mosquitto_passwd is not installed")
    env = dict(os.environ, PASSWORD_alice="alice-pw")
    out = subprocess.run(["sh", str(DEPLOY / "make-users.sh"), str(tmp_path), "bench:bench", "alice:operator",
                          "bob:viewer"], capture_output=True, text=True, env=env, check=True).stdout
    users = {name: (pw, role) for name, role, pw in (line.split() for line in out.splitlines())}
    assert users["alice"] == ("alice-pw", "operator") and len(users["bob"][0]) >= 12
    return users


def test_the_users_script_writes_mosquitto_files_by_role(tmp_path: Path) -> None:
    users = _make_users(tmp_path)
    hashes = read_password_file((tmp_path / "passwd").read_text())
    for name, (pw, _) in users.items():
        assert verify_password(pw, hashes[name])
    acl = Acl.parse((tmp_path / "acl").read_text())
    roles = {n: acl.role_of(n, "bench-1") for n in users}
    assert roles == {"bench": "bench", "alice": "operator", "bob": "viewer"}
    # The example in the repository is what the script writes.
    example = Acl.parse((DEPLOY / "acl.example").read_text())
    assert example.text() == acl.text()
    assert (tmp_path / "passwd").stat().st_mode & 0o077 == 0
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run(["sh", str(DEPLOY / "make-users.sh"), str(tmp_path / "x"), "eve:admin"],
                       capture_output=True, check=True)


@pytest.fixture
def broker_dir() -> Path:
    """A folder Mosquitto can read when it runs as its own user (pytest's
    tmp_path is under a folder only root may enter)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hil-deploy-") as d:
        if os.geteuid() == 0 and _has_user("mosquitto"):
            shutil.chown(d, "mosquitto")
        yield Path(d)


@pytest.mark.asyncio
async def test_the_example_configuration_runs_and_holds(broker_dir: Path) -> None:
    tmp_path = broker_dir
    users = _make_users(tmp_path)
    exe = mosquitto_executable()
    assert exe is not None
    port = free_port()
    conf = (DEPLOY / "mosquitto.conf").read_text()
    conf = conf.replace("/etc/mosquitto/hemosorb/", f"{tmp_path}/").replace("listener 1883 127.0.0.1",
                                                                             f"listener {port} 127.0.0.1")
    conf = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {tmp_path}/", conf)
    conf = conf.replace("persistence true", "persistence false").replace("log_dest syslog", "log_dest stderr")
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen([exe, "-c", str(tmp_path / "mosquitto.conf")], stderr=subprocess.PIPE)
    try:
        assert wait_listening("127.0.0.1", port), proc.stderr.read1(4096) if proc.stderr else ""

        def url(name: str) -> BrokerUrl:
            return BrokerUrl("127.0.0.1", port, name, users[name][0])

        async with client_for(url("bob")) as bob:
            await bob.subscribe("hemosorb/#", qos=1)
            async with client_for(url("alice")) as alice:
                await alice.publish("hemosorb/b1/cmd", b"from alice", qos=1)
            await bob.publish("hemosorb/b1/cmd", b"from bob", qos=1)
            got: list[bytes] = []

            async def read() -> None:
                async for m in bob.messages:
                    got.append(m.payload)

            try:
                await asyncio.wait_for(read(), 1.0)
            except asyncio.TimeoutError:
                pass
        assert got == [b"from alice"]
        for bad in (BrokerUrl("127.0.0.1", port), BrokerUrl("127.0.0.1", port, "alice", "wrong")):
            with pytest.raises(aiomqtt.MqttError):
                async with client_for(bad):
                    pass
    finally:
        proc.terminate()
        proc.wait(10)


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
