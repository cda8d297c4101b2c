"""Headless Debian Chromium driven through its own chromedriver (no browser download), with
the few Airflow UI gestures the end-to-end test needs. Selectors are visible texts and aria
labels of the Airflow 3.3 React UI; every wait is bounded and a timeout saves a screenshot."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

TRIGGER_WAIT = 240  # seconds for a triggered run's page (see Browser.trigger)
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1400,1000",
]


def missing_browser() -> str | None:
    """Why the browser cannot run here, or None (tests/system_packages.sh installs both)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            return f"{path} not found: install Debian's {package} (tests/system_packages.sh)"
    return None


def _xpath_text(text: str) -> str:
    """An XPath string literal for text without double quotes."""
    assert '"' not in text, text
    return f'"{text}"'


class Browser:
    """One Chromium session; `shot()` numbers screenshots in the order they are taken."""

    def __init__(self, shots: Path, timeout: float = 60) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        service = Service(shutil.which("chromedriver") or CHROMEDRIVER)
        self.driver = webdriver.Chrome(service=service, options=options)
        self.shots = shots
        self.timeout = timeout
        self._count = 0

    def quit(self) -> None:
        self.driver.quit()

    def shot(self, name: str) -> Path:
        self._count += 1
        path = self.shots / f"{self._count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def until(self, what: str, condition: Callable[[Any], Any], timeout: float | None = None):
        """Wait for `condition`; on timeout fail naming `what`, the page and a screenshot."""
        try:
            # React re-renders: an element found a moment ago may be gone, or the page is
            # still navigating (a redirect to the login page); look again until the deadline
            wait = WebDriverWait(
                self.driver,
                timeout or self.timeout,
                ignored_exceptions=(StaleElementReferenceException, WebDriverException),
            )
            return wait.until(condition)
        except TimeoutException:
            path = self.shot("timeout-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", what)[:40])
            raise AssertionError(
                f"browser: {what} not seen within {timeout or self.timeout:.0f} s on "
                f"{self.driver.current_url} (screenshot {path})"
            ) from None

    def visible(self, xpath: str, what: str, timeout: float | None = None) -> WebElement:
        return self.until(what, ec.visibility_of_element_located((By.XPATH, xpath)), timeout)

    def clickable(self, xpath: str, what: str) -> WebElement:
        return self.until(what, ec.element_to_be_clickable((By.XPATH, xpath)))

    def text_shown(self, text: str, timeout: float | None = None) -> WebElement:
        lit = _xpath_text(text)
        # the innermost element holding the whole text (it may span inline children)
        xpath = (
            f"//*[contains(normalize-space(.), {lit})][not(*[contains(normalize-space(.), {lit})])]"
        )
        return self.until(
            f"text {text!r}", lambda d: _displayed(d.find_elements(By.XPATH, xpath)), timeout
        )

    def button(self, label: str, within: WebElement | None = None) -> WebElement:
        """A button by its visible text or aria-label."""
        lit = _xpath_text(label)
        xpath = f"//button[normalize-space(.)={lit} or @aria-label={lit}]"
        if within is None:
            return self.clickable(xpath, f"button {label!r}")
        return self.until(
            f"button {label!r} in dialog",
            lambda _: _displayed(within.find_elements(By.XPATH, "." + xpath)),
        )

    def dialog(self, containing: str) -> WebElement:
        xpath = f"//*[@role='dialog'][contains(normalize-space(.), {_xpath_text(containing)})]"
        return self.visible(xpath, f"dialog {containing!r}")

    def body_text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    # --- Airflow gestures -------------------------------------------------------------------

    def login(self, base_url: str, username: str, password: str) -> None:
        """Through SimpleAuthManager's login page, as a person would."""
        self.driver.get(f"{base_url}/")
        self.until("login form", ec.visibility_of_element_located((By.NAME, "username")))
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.shot("login-page")
        self.clickable("//button[@type='submit']", "sign-in button").click()
        self.until("leaving the login page", lambda d: "/auth/login" not in d.current_url)

    def trigger(self, base_url: str, dag_id: str, run_id: str) -> None:
        """The DAG page's Trigger button, with our own run id (Advanced Options) and the
        default "Unpause on trigger" left on: DAGs are paused at creation."""
        self.driver.get(f"{base_url}/dags/{dag_id}")
        self.button("Trigger Dag").click()
        dialog = self.dialog("Trigger Dag")
        unpause = dialog.find_element(
            By.XPATH, ".//label[contains(normalize-space(.), 'Unpause')]//input[@type='checkbox']"
        )
        assert unpause.is_selected(), "the trigger dialog no longer unpauses by default"
        self.button("Advanced Options", within=dialog).click()
        self.until("run id field", ec.visibility_of_element_located((By.NAME, "dagRunId")))
        self.driver.find_element(By.NAME, "dagRunId").send_keys(run_id)
        self.shot(f"trigger-{dag_id}")
        self.button("Trigger", within=dialog).click()
        # The API server answers nothing while it starts the first task instance: 53-72 s
        # measured on a loaded shared machine (main too), so this wait is longer.
        self.until(f"page of run {run_id}", ec.url_contains(f"/runs/{run_id}"), TRIGGER_WAIT)

    def open_task(self, base_url: str, dag_id: str, run_id: str, task_id: str) -> None:
        self.driver.get(f"{base_url}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}")
        self.button("Press shift+c to clear")  # the task instance header has rendered

    def tab(self, label: str) -> None:
        lit = _xpath_text(label)
        self.clickable(
            f"//*[self::a or self::button or @role='tab'][starts-with(normalize-space(.), {lit})]",
            f"tab {label!r}",
        ).click()


def _displayed(elements: list[WebElement]) -> WebElement | None:
    return next((e for e in elements if e.is_displayed() and e.is_enabled()), None)
