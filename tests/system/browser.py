"""A real browser for the viewer's tests, benchmark and screenshots: Debian's headless Chromium driven by
Selenium through chromedriver.

The tests that use it skip, saying why, where Chromium, chromedriver or Selenium is missing (.ci/run installs
the Debian packages chromium and chromium-driver). Chromium runs with its background networking off: the
page is on loopback and nothing else is reached.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = "chromedriver"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
         "--disable-default-apps", "--force-device-scale-factor=1")
URL_LINE = re.compile(r"pvaflow view: serving (http://\S+)")


def chromium_and_driver() -> tuple[str, str] | str:
    """Paths of Chromium and chromedriver, or what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    chromium = next((path for name in CHROMIUM if (path := shutil.which(name))), None)
    driver = shutil.which(CHROMEDRIVER)
    if chromium is None or driver is None:
        return ("no Chromium and chromedriver here (Debian packages chromium and chromium-driver; .ci/run "
                "installs them)")
    return chromium, driver


def start_chromium(profile: Path, log: Path, width: int = 1280, height: int = 1000) -> Any:
    """A headless Chromium with an empty profile in ``profile``, driven by Selenium (RuntimeError: missing)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = chromium_and_driver()
    if isinstance(found, str):
        raise RuntimeError(found)
    chromium, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path, log_output=str(log)), options=options)
    driver.set_script_timeout(20)
    return driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium, quit after the test; the test skips, saying why, where there is none."""
    found = chromium_and_driver()
    if isinstance(found, str):
        pytest.skip(found)
    driver = start_chromium(tmp_path / "chromium-profile", tmp_path / "chromedriver.log")
    try:
        yield driver
    finally:
        driver.quit()


def url_from(read_output: Callable[[], str], timeout: float = 30.0, check: Callable[[], None] = lambda: None) -> str:
    """The page's URL, from the line the viewer (or runner) prints when it listens; ``read_output`` gives
    its output so far, ``check`` raises if it ended. AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (match := URL_LINE.search(read_output())) is None:
        check()
        if time.monotonic() > deadline:
            raise AssertionError(f"no 'serving' line in {timeout} s:\n{read_output()}")
        time.sleep(0.05)
    return match.group(1)


def served_url(child, timeout: float = 30.0) -> str:
    """The URL a child process of the tests serves (the test fails at once if the child exits)."""
    return url_from(lambda: child.output, timeout, child.check_running)


def page_value(driver, script: str, predicate, timeout: float = 30.0, what: str = "page condition") -> Any:
    """``return <script>`` run in the page until ``predicate`` holds for its value; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(f"return {script}")
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s (last value: {value!r})")
        time.sleep(0.1)
