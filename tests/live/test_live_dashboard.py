"""The live dashboard in a real headless Chromium (Debian's, driven by
Playwright), fed by a live run through a real Mosquitto:

- the page shows the pressure the plant set (the same number, at the same
  virtual time) in the element whose data-quantity names it;
- an alarm injected into the run at 1 x real time is on the page within 1 s;
- an operator's button presses reach the board; a viewer's do not;
- the page asks nothing of any other host (it works offline).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from hil.live.app import LiveApp
from hil.live.options import LiveConfig
from hil.live.run import LiveOptions
from hil.run.therapy import TherapyPlan
from hil.telemetry.brokers import free_port
from hil.transport import frames

C = frames.C
pytestmark = pytest.mark.asyncio(loop_scope="module")
QUANTITIES = ("t_s", "state", "blood_flow_ml_min", "flow_set_ml_min", "p_access_mmhg", "p_pre_mmhg",
              "p_return_mmhg", "heparin_u_h", "aptt_s", "cartridge", "cartridge_left_h")


class PlantRecorder:
    """The plant's readings at every status the run published, by virtual time."""

    def __init__(self) -> None:
        self.session: Any = None
        self.by_t: dict[float, dict[str, float]] = {}

    def on_session(self, session: Any, exchange: Any = None) -> None:
        self.session = session

    def on_status(self, tick: int, status: frames.Status) -> None:
        if self.session is not None and self.session.plant is not None:
            self.by_t[round(tick * self.session.period_s, 3)] = self.session.plant.observe()


class Live:
    def __init__(self, app: LiveApp, recorder: PlantRecorder, thread: threading.Thread) -> None:
        self.app = app
        self.recorder = recorder
        self.thread = thread

    @property
    def status(self) -> frames.Status:
        return self.app.run.session.loop.status

    def wait_state(self, state: int, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.status.state != state:
            assert time.monotonic() < deadline, \
                f"state {self.status.state_name}, wanted {C.STATE_NAMES[state]}"
            time.sleep(0.01)


@pytest.fixture(scope="module")
def live(mosquitto, accounts, tmp_path_factory) -> Any:
    acl = tmp_path_factory.mktemp("live") / "acl"
    acl.write_text(accounts.acl.text())
    recorder = PlantRecorder()
    cfg = LiveConfig(plan=TherapyPlan(hours=48.0), options=LiveOptions(speed=None, manual=True),
                     http=("127.0.0.1", free_port()), mqtt=mosquitto.url("bench").url(with_password=True),
                     board_id="dash", acl=acl)
    app = LiveApp(cfg, observers=(recorder,))
    app.start()
    thread = threading.Thread(target=app.drive, name="live-drive", daemon=True)
    thread.start()
    live = Live(app, recorder, thread)
    try:
        # As fast as it goes to blood flowing, then real time.
        live.wait_state(C.RUNNING)
        app.set_speed(1.0)
        yield live
    finally:
        app.stop()
        thread.join(20)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium) -> Any:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(**chromium)
        yield b
        await b.close()


async def _page(browser: Any, live: Live, hosts: list[str] | None = None) -> Any:
    context = await browser.new_context()
    page = await context.new_page()
    if hosts is not None:
        page.on("request", lambda r: hosts.append(urlsplit(r.url).netloc))
    await page.goto(live.app.url)
    await _shows(page, "state", "running")
    return page


async def _text(page: Any, quantity: str) -> str:
    return await page.text_content(f"[data-quantity={quantity}]")


async def _shows(page: Any, quantity: str, text: str) -> None:
    """Wait until the page shows ``text`` as ``quantity``."""
    await page.wait_for_function(
        f"() => document.querySelector('[data-quantity={quantity}]').textContent === '{text}'")


async def _said(page: Any, words: str) -> None:
    """Wait until the operator's panel says ``words`` about the last command."""
    await page.wait_for_function(
        f"() => document.querySelector('#command-result').textContent.includes('{words}')")


async def _login(page: Any, user: str, password: str) -> None:
    await page.fill("#login-user", user)
    await page.fill("#login-password", password)
    await page.click("#login-button")
    await page.wait_for_selector("#whoami:not([hidden])")


async def test_the_page_shows_the_pressure_the_plant_set(browser, live) -> None:
    hosts: list[str] = []
    page = await _page(browser, live, hosts)
    for q in QUANTITIES:
        assert await page.locator(f"[data-quantity={q}]").count() >= 1, q
        assert (await _text(page, q)) not in ("", "-"), q
    # The plant's access line narrows: its pressure falls, and the page follows.
    live.app.run.inject("access_occlusion", 0.3)
    await page.wait_for_function("() => parseFloat(document.querySelector('[data-quantity=p_access_mmhg]')"
                                 ".textContent) < -140", timeout=5000)
    shown = await page.evaluate("""() => Object.fromEntries(
        ['t_s', 'p_access_mmhg', 'p_pre_mmhg', 'p_return_mmhg']
        .map(q => [q, document.querySelector('[data-quantity=' + q + ']').textContent]))""")
    plant = live.recorder.by_t[float(shown["t_s"])]
    for q in ("p_access_mmhg", "p_pre_mmhg", "p_return_mmhg"):
        assert shown[q] == f"{plant[q]:.1f}", (q, shown, plant[q])
    assert float(shown["p_access_mmhg"]) == pytest.approx(-148.1, abs=0.5)
    live.app.run.inject("access_occlusion", 0.0)
    await page.wait_for_function("() => parseFloat(document.querySelector('[data-quantity=p_access_mmhg]')"
                                 ".textContent) > -100", timeout=5000)
    # Offline: nothing but the dashboard's own server was asked for anything.
    assert hosts and set(hosts) == {urlsplit(live.app.url).netloc}
    await page.context.close()


async def test_an_alarm_reaches_the_page_within_a_second_at_real_time(browser, live) -> None:
    assert live.app.run.speed == 1.0
    page = await _page(browser, live)
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    live.app.run.inject("air", 2.0)
    alarm = await page.wait_for_selector('[data-alarm="air_in_line"]', timeout=5000)
    latency = time.monotonic() - t0
    assert latency < 1.0, f"the alarm took {latency:.3f} s to reach the page"
    assert "prio-high" in (await alarm.get_attribute("class"))
    assert "Air in line" in (await alarm.text_content())
    await _shows(page, "state", "safe")
    out = Path("out/live")
    out.mkdir(parents=True, exist_ok=True)
    figure = {"alarm_to_page_s": round(latency, 3), "speed": 1.0}
    (out / "alarm_latency.json").write_text(json.dumps(figure) + "\n")
    await page.context.close()


async def test_an_operator_s_buttons_reach_the_board(browser, live, accounts) -> None:
    page = await _page(browser, live) if live.status.state == C.RUNNING else None
    if page is None:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(live.app.url)
    await _login(page, "operator", accounts.password("operator"))
    assert "(operator)" in await page.text_content("#who")
    if live.status.state != C.SAFE:
        live.app.run.inject("air", 1.0)
        await asyncio.to_thread(live.wait_state, C.SAFE, 10.0)
    # Once the air has passed, the operator acknowledges and resumes.
    await page.wait_for_selector('[data-alarm="air_in_line"]', state="detached", timeout=10000)
    await page.click("button[data-command=ack_alarms]")
    await _said(page, "done")
    assert live.status.state == C.PAUSED
    await _shows(page, "state", "paused")
    await page.click("button[data-command=resume]")
    await _shows(page, "state", "running")
    assert live.status.state == C.RUNNING
    await page.click("button[data-command=pause]")
    await _shows(page, "state", "paused")
    await page.click("button[data-command=resume]")
    await _shows(page, "state", "running")
    await page.fill("#aptt-value", "66.6")
    await page.click("button[data-command=aptt]")
    await _shows(page, "aptt_s", "66.6")
    assert live.status.last_aptt == 666
    assert "66.6 s" in await page.text_content("#aptt-entries")
    await page.context.close()


async def test_a_viewer_s_button_press_does_not_reach_the_board(browser, live, accounts) -> None:
    page = await _page(browser, live)
    before = live.status
    anonymous = await page.evaluate("""() => fetch('/api/command', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-Hemosorb': '1'},
        body: JSON.stringify({command: 'pause'})}).then(r => r.status)""")
    assert anonymous == 401
    wrong = await page.evaluate("""() => fetch('/api/login', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-Hemosorb': '1'},
        body: JSON.stringify({user: 'viewer', password: 'not it'})}).then(r => r.status)""")
    assert wrong == 401
    await _login(page, "viewer", accounts.password("viewer"))
    assert "(viewer)" in await page.text_content("#who")
    for name in ("ack_alarms", "pause", "resume", "confirm_exchange", "aptt"):
        assert await page.is_disabled(f"button[data-command={name}]"), name
    # Pressed anyway (the button enabled by hand, or the request forged): refused.
    await page.evaluate("document.querySelector('button[data-command=pause]').disabled = false")
    await page.click("button[data-command=pause]")
    await _said(page, "only an operator")
    forged = await page.evaluate("""() => fetch('/api/command', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-Hemosorb': '1'},
        body: JSON.stringify({command: 'pause'})}).then(r => r.status)""")
    assert forged == 403
    no_header = await page.evaluate("""() => fetch('/api/command', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({command: 'pause'})}).then(r => r.status)""")
    assert no_header == 403
    await asyncio.sleep(0.5)
    assert live.status.state == C.RUNNING == before.state
    await page.context.close()
