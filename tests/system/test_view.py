"""pvaflow view in a real browser (headless Chromium): live frames drawn with the right pixels, a status
panel whose control form reaches the consumer, and the pipeline page of pvaflow run --view and of
pvaflow view --pipeline."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from .browser import page_value, served_url
from .helpers import send_start_signal, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(150)]

By = pytest.importorskip("selenium.webdriver.common.by", reason="selenium is not installed").By
Select = pytest.importorskip("selenium.webdriver.support.ui", reason="selenium is not installed").Select

CHANNEL = "view:image"
ANY_PORT = ("--bind", "127.0.0.1:0")


def sim_server(start_process, *extra: str):
    return start_process("sim-server", "-cn", CHANNEL, "-std", "0", "-rp", "0", "-dc", *extra)


def panel(driver, channel: str):
    return driver.find_element(By.CSS_SELECTOR, f'article[data-channel="{channel}"]')


def set_field(element, text: str) -> None:
    element.clear()
    element.send_keys(text)
    element.send_keys("\t")  # leaving the field fires its change event


def test_page_draws_each_frame_with_its_exact_pixels(start_process, wait_for_channel, browser, tmp_path) -> None:
    # three different gradients, sent in turn: id n carries frames[(n - 1) % 3]
    columns = np.arange(256)
    frames = np.stack([np.tile((columns + 80 * k) % 256, (16, 1)) for k in range(3)]).astype(np.uint8)
    np.save(tmp_path / "gradients.npy", frames)
    server = sim_server(start_process, "-if", str(tmp_path / "gradients.npy"), "-fps", "8", "-rt", "120")
    wait_for_channel(CHANNEL, server)
    viewer = start_process("view", CHANNEL, *ANY_PORT, "--display-rate", "30")
    url = served_url(viewer)
    browser.get(url)
    shown = f"window.pvaflowView.frames[{json.dumps(CHANNEL)}]"
    page_value(browser, shown, lambda frame: frame and frame["drawn"] >= 1, what="a first frame drawn")

    # contrast fixed at 0..255: each level is drawn as itself
    element = panel(browser, CHANNEL)
    Select(element.find_element(By.CSS_SELECTOR, ".contrast")).select_by_value("fixed")
    set_field(element.find_element(By.CSS_SELECTOR, ".low"), "0")
    set_field(element.find_element(By.CSS_SELECTOR, ".high"), "255")
    page_value(browser, shown, lambda frame: frame["low"] == 0 and frame["high"] == 255 and frame["step"] == 1,
               what="frames drawn at contrast 0..255")

    xs = [0, 1, 37, 128, 200, 255]
    reads: list[tuple[int, list[list[int]]]] = []
    while len(reads) < 6:  # the page draws every frame: 30 Hz display, 8 Hz source
        last = reads[-1][0] if reads else 0
        image_id, pixels = page_value(
            browser, f"[{shown}.id, {json.dumps(xs)}.map(x => window.pvaflowView.pixel({json.dumps(CHANNEL)}, x, 7))]",
            lambda value, last=last: value[0] > last, what="a newer frame drawn")
        reads.append((image_id, pixels))
    for image_id, pixels in reads:
        expected = frames[(image_id - 1) % 3, 7, xs]
        assert pixels == [[int(v), int(v), int(v), 255] for v in expected], (image_id, pixels)
    assert len({(image_id - 1) % 3 for image_id, _ in reads}) == 3, "the image changes with the frames"
    text = element.find_element(By.CSS_SELECTOR, ".size").text
    assert text == "256 x 16 MONO" and element.find_element(By.CSS_SELECTOR, ".dtype").text == "uint8"

    # a colour map: level 0 drawn as viridis's first colour; zoom 2x: each frame pixel two screen pixels wide
    Select(element.find_element(By.CSS_SELECTOR, ".colormap")).select_by_value("viridis")
    Select(element.find_element(By.CSS_SELECTOR, ".zoom")).select_by_value("2")
    page_value(browser, f"[{shown}.id, window.pvaflowView.pixel({json.dumps(CHANNEL)}, 176, 7), "
                        "document.querySelector('canvas.image').style.width]",
               lambda value: value[0] % 3 == 2 and value[1] == [0x44, 0x01, 0x54, 255] and value[2] == "512px",
               what="a frames[1] (level 0 at x = 176) drawn in viridis at zoom 2x")

    # read-only: no control form, and the control endpoint refuses
    request = urllib.request.Request(url + "control", data=b'{"channel": "x", "command": "stop"}', method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_status_panel_shows_live_counts_and_its_control_form_reaches_the_consumer(
        start_process, wait_for_channel, browser) -> None:
    status, control = "view:consumer:status", "view:consumer:control"
    server = sim_server(start_process, "-nx", "64", "-ny", "64", "-fps", "20", "-rt", "120")
    wait_for_channel(CHANNEL, server)
    consumer = start_process("consumer", "-ic", CHANNEL, "-sc", status, "-cc", control, "-rp", "0", "-dc")
    wait_for_channel(status, consumer)
    viewer = start_process("view", status, *ANY_PORT, "--allow-control")
    browser.get(served_url(viewer))
    processed = (f"(document.querySelector('article[data-channel=\"{status}\"] table[data-section=processorStats] "
                 "td[data-key=nProcessed]') || {}).textContent")
    first = int(page_value(browser, processed, lambda text: text and int(text) > 0, what="nProcessed shown"))
    page_value(browser, processed, lambda text: int(text) > first, what="nProcessed going up")

    form = panel(browser, status).find_element(By.CSS_SELECTOR, "form.control")
    assert form.is_displayed() and form.find_element(By.CSS_SELECTOR, ".control-channel").text == control
    Select(form.find_element(By.CSS_SELECTOR, ".command")).select_by_value("configure")
    set_field(form.find_element(By.CSS_SELECTOR, ".args"), '{"level": 50}')
    form.find_element(By.CSS_SELECTOR, ".send").click()
    reply = "document.querySelector('form.control .reply').textContent"
    assert page_value(browser, reply, lambda text: "waiting" not in text) == "Configuration successful"

    Select(form.find_element(By.CSS_SELECTOR, ".command")).select_by_value("stop")
    form.find_element(By.CSS_SELECTOR, ".send").click()
    browser.switch_to.alert.accept()  # stop asks first
    assert page_value(browser, reply, lambda text: "waiting" not in text) == "Stop flag set"
    assert consumer.wait(30) == 0, consumer.output


PIPELINE = """
    [pipeline]
    name = "watched"

    [stages.source]
    kind = "sim-server"
    n-x-pixels = 128
    n-y-pixels = 96
    frame-rate = 20
    runtime = 300

    [stages.workers]
    kind = "consumer"
    reads = "source"
    n-consumers = 2
    distributor-updates = "1"
    distributor-trigger = "uniqueId"

    [stages.ordered]
    kind = "collector"
    reads = "workers"
"""


def stage_rows(driver) -> dict[str, dict[str, str]]:
    return driver.execute_script("""
        const rows = {};
        for (const row of document.querySelectorAll('#stages tbody tr')) {
            rows[row.dataset.stage] = {};
            for (const cell of row.cells) {
                if (cell.dataset.key) rows[row.dataset.stage][cell.dataset.key] = cell.textContent;
            }
        }
        return rows;""")


def processed(driver, stage: str) -> int:
    value = stage_rows(driver).get(stage, {}).get("processed", "-")
    return int(float(value)) if value not in ("-", "") else 0


def test_pipeline_page_lists_every_stage_with_live_counters(start_process, browser, tmp_path) -> None:
    path = tmp_path / "watched.toml"
    path.write_text(textwrap.dedent(PIPELINE))
    runner = start_process("run", str(path), "--view", "127.0.0.1:0")
    browser.get(served_url(runner, 60))
    page_value(browser, "Object.keys(window.pvaflowView.pipeline ? window.pvaflowView.pipeline.rows : {}).length",
               lambda count: count == 3, what="three stage rows")
    order = "Array.from(document.querySelectorAll('#stages tbody tr')).map(row => row.dataset.stage)"
    assert browser.execute_script(f"return {order}") == ["source", "workers", "ordered"]
    wait_until(lambda: processed(browser, "workers") > 0 and processed(browser, "ordered") > 0, 60,
               "frames processed by both stages")
    before = processed(browser, "ordered")
    wait_until(lambda: processed(browser, "ordered") > before, 30, "the collector's count going up")
    rows = stage_rows(browser)
    assert rows["workers"]["state"] == "2/2 running" and rows["ordered"]["state"] == "running"
    assert rows["source"]["kind"] == "sim-server" and rows["ordered"]["missed"] == "0"
    page_value(browser, "window.pvaflowView.pipeline.history.workers || []",
               lambda points: any(rate > 0 for _, rate in points), what="a rate history of the workers")

    # one click to a stage's output as an image
    output = 'tr[data-stage="ordered"] button[data-channel="watched:ordered:output"]'
    browser.find_element(By.CSS_SELECTOR, output).click()
    page_value(browser, "window.pvaflowView.frames['watched:ordered:output']",
               lambda frame: frame and frame["drawn"] >= 2, what="the collector's output drawn")

    # a collector's status as a panel, one click away
    status = 'tr[data-stage="ordered"] button[data-channel="watched:ordered:status"]'
    browser.find_element(By.CSS_SELECTOR, status).click()
    page_value(browser, "document.querySelectorAll('article[data-channel=\"watched:ordered:status\"] "
                        "table[data-section=collectorStats] td').length", lambda count: count > 0,
               what="the collector's status panel")

    # the same pipeline seen without the runner: from its status channels
    viewer = start_process("view", "--pipeline", str(path), *ANY_PORT)
    browser.get(served_url(viewer))
    page_value(browser, "window.pvaflowView.pipeline && window.pvaflowView.pipeline.rows.map(r => r.state)",
               lambda states: states == ["no status channel", "reporting", "reporting"], what="the stages reporting")
    before = processed(browser, "workers")
    wait_until(lambda: processed(browser, "workers") > before, 30, "the workers' count going up")


async def frames_without_ready(url: str) -> tuple[list[dict], list[dict], list[dict]]:
    """Over the viewer's WebSocket: (frames sent up to 2 s after the first while the tab never says ready,
    frames in 2 s after one ready, the error replies)."""
    import aiohttp

    async def collect(socket, seconds: float, until_frame: bool = False) -> list[dict]:
        messages: list[dict] = []
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = json.loads((await asyncio.wait_for(socket.receive(), remaining)).data)
            except asyncio.TimeoutError:
                break
            messages.append(message)
            if until_frame and message["type"] == "frame":
                break
        return messages

    async with aiohttp.ClientSession() as session, session.ws_connect(url + "ws") as socket:
        await socket.send_str("not json")
        await socket.send_json({"type": "subscribe", "channel": CHANNEL, "display": {"colormap": "rainbow"}})
        await socket.send_json({"type": "subscribe", "channel": "not:shown"})
        await socket.send_json({"type": "subscribe", "channel": CHANNEL})
        first = await collect(socket, 30.0, until_frame=True)
        first += await collect(socket, 2.0)
        await socket.send_json({"type": "ready", "channel": CHANNEL})
        second = await collect(socket, 2.0)
    frames = [[message for message in messages if message["type"] == "frame"] for messages in (first, second)]
    return frames[0], frames[1], [message for message in first if message["type"] == "error"]


def test_a_tab_gets_no_new_frame_before_it_drew_the_last(start_process, wait_for_channel) -> None:
    server = sim_server(start_process, "-nx", "32", "-ny", "32", "-fps", "50", "-rt", "120")
    wait_for_channel(CHANNEL, server)
    viewer = start_process("view", CHANNEL, *ANY_PORT, "--display-rate", "20")
    before, after, errors = asyncio.run(frames_without_ready(served_url(viewer)))
    assert len(before) == 1, "one frame, then none until the tab is ready: 20 Hz display of a 50 Hz source"
    assert len(after) == 1 and after[0]["id"] > before[0]["id"]
    # frames are fetched, not monitored: each id from the first fetched on is either fetched or skipped
    assert (before[0]["received"], before[0]["missed"], after[0]["received"]) == (1, None, 2)
    assert after[0]["received"] + after[0]["skipped"] == after[0]["id"] - before[0]["id"] + 1
    assert [error["message"] for error in errors] == [
        "not JSON: not json",
        "display: colormap 'rainbow' is not one of gray, viridis, inferno, hot",
        "not:shown is not shown by this viewer",
    ]


async def counts_until(url: str, start, predicate, timeout: float = 60.0) -> dict:
    """Subscribe over the WebSocket; call ``start()`` once the viewer counts a first update; the first
    'channel' message whose counts satisfy ``predicate``."""
    import aiohttp

    deadline, started, message = time.monotonic() + timeout, False, None
    async with aiohttp.ClientSession() as session, session.ws_connect(url + "ws") as socket:
        await socket.send_json({"type": "subscribe", "channel": CHANNEL})
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                received = json.loads((await asyncio.wait_for(socket.receive(), remaining)).data)
            except asyncio.TimeoutError:
                break
            if received["type"] != "channel" or received["kind"] != "image":
                continue
            message = received
            if not started and message["received"] >= 1:
                start()
                started = True
            elif started and predicate(message):
                return message
    raise AssertionError(f"counts not reached within {timeout} s (last: {message})")


def test_every_frame_counts_each_id(start_process, wait_for_channel) -> None:
    server = sim_server(start_process, "-nx", "32", "-ny", "32", "-fps", "100", "-nf", "100", "-cs", "10", "-sos",
                        "-std", "60")  # -sos holds the first frame up to the start delay
    wait_for_channel(CHANNEL, server)
    viewer = start_process("view", CHANNEL, *ANY_PORT, "--every-frame")
    message = asyncio.run(counts_until(served_url(viewer), lambda: send_start_signal(server.process),
                                       lambda counts: counts["received"] >= 101))
    assert (message["received"], message["missed"]) == (101, 0), "the initial value and 100 frames"
