"""Fixtures of the telemetry and dashboard tests: a Mosquitto of their own on
a free port (Debian's mosquitto; .ci/run installs it), a live run in a
thread, and the path of Debian's Chromium.

Outside CI a missing mosquitto or chromium skips the tests that need it,
saying so; in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hil.telemetry.brokers import Accounts, LocalMosquitto, mosquitto_executable

CHROMIUM = os.environ.get("HEMOSORB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is missing in CI (.ci/run installs it)")
    pytest.skip(f"{what} is not installed (apt-get install mosquitto chromium)")


@pytest.fixture(scope="session")
def accounts() -> Accounts:
    acc = Accounts.default("op-secret", "view-secret")
    acc.add("operator2", "op2-secret", "operator")
    return acc


@pytest.fixture(scope="session")
def mosquitto(accounts: Accounts) -> Iterator[LocalMosquitto]:
    if mosquitto_executable() is None:
        _missing("mosquitto")
    broker = LocalMosquitto(accounts)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def chromium() -> dict[str, Any]:
    """Playwright's launch arguments for Debian's Chromium."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _missing("chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _missing("playwright (pip)")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


class RunThread:
    """A live run driven in a background thread, as ``hil live`` drives it."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.thread = threading.Thread(target=run.complete, name="live-run", daemon=True)

    def start(self) -> "RunThread":
        self.thread.start()
        return self

    def status(self) -> Any:
        return self.run.session.loop.status

    def wait_state(self, state: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.status().state != state:
            if time.monotonic() > deadline or self.run.finished.is_set():
                raise AssertionError(f"state {self.status().state_name} after {timeout_s} s "
                                     f"(wanted {state}); error {self.run.error}")
            time.sleep(0.01)

    def stop(self) -> None:
        self.run.stop()
        self.thread.join(30)


@pytest.fixture
def run_thread() -> Any:
    """Start a live run's drive in a background thread: ``run_thread(run)``."""
    started: list[RunThread] = []

    def start(run: Any) -> RunThread:
        rt = RunThread(run).start()
        started.append(rt)
        return rt

    yield start
    for rt in started:
        rt.stop()
