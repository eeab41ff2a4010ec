"""The web page in a real browser: Debian's headless Chromium driven by Selenium, against the
real server (tiny checkpoints) over real sockets, at the server's root and behind a reverse
proxy that serves it under a path prefix, as Home Assistant's ingress does.

Everything stays on loopback. Chromium is started so that it fetches nothing by itself, and
Selenium is handed the driver's path, so Selenium Manager downloads nothing either.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from aiohttp import ClientSession, ClientTimeout, web
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from .wyoming_server import RunningServer, start_server, write_reference

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="Debian's chromium and chromium-driver are not installed "
        "(script/test installs them: apt-get install chromium chromium-driver)",
    ),
    pytest.mark.timeout(240),
]

INGRESS_PREFIX = "/api/hassio_ingress/abc/"
INSECURE_HOST = "insecure.test"
"""A name Chromium resolves to 127.0.0.1 (--host-resolver-rules): an http:// origin that is
not "potentially trustworthy", as a LAN address is, so the page is not a secure context."""
TOKEN = "web-page-test-token"
SPEECH_TIMEOUT_S = 90.0
UI_TIMEOUT_S = 20.0


# --- the server, a reverse proxy in front of it, and the browser ------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebServer:
    running: RunningServer
    url: str
    """http://127.0.0.1:PORT/"""
    port: int


def http_json(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """One request with urllib; the status and the JSON body (error answers too)."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def wait_for_http(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, _ = http_json(url, headers=headers, timeout=5)
            if status == 200:
                return
            last = status
        except OSError as err:
            last = err
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s (last: {last})")


LEXICON = """\
- word: HA
  say: Home Assistant
- word: Nguyen
  say: Win
  language: en
  case_sensitive: false
"""


def _start_web_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, models: list[str], extra: list[str]
) -> WebServer:
    port = free_port()
    voices = tmp_path_factory.mktemp(f"{name}_voices")
    (voices / "lexicon.yaml").write_text(LEXICON)
    running = start_server(
        [
            "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--device", "cpu", "--seed", "1",
            *models,
            "--voices-dir", str(voices),
            "--cache-dir", str(tmp_path_factory.mktemp(f"{name}_cache")),
            "--http-host", "127.0.0.1", "--http-port", str(port), *extra,
        ],
        tmp_path_factory.mktemp(f"{name}_server") / "server.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"} if "--http-token" in extra else {}
        wait_for_http(url + "v1/audio/voices", headers=auth)
    except BaseException:
        running.stop()
        raise
    return WebServer(running, url, port)


@pytest.fixture(scope="module")
def server(
    custom_voice_1b7_checkpoint: Path,
    base_checkpoint: Path,
    voice_design_checkpoint: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebServer]:
    """The real server with every model: premium voices with styles (a CustomVoice checkpoint
    that follows instructions), cloning (Base) and voice design (VoiceDesign)."""
    models = [
        "--custom-voice-model", str(custom_voice_1b7_checkpoint),
        "--base-model", str(base_checkpoint),
        "--voice-design-model", str(voice_design_checkpoint),
    ]  # fmt: skip
    running = _start_web_server(tmp_path_factory, "web", models, [])
    yield running
    running.running.stop()


SESSION = web.AppKey("session", ClientSession)


@dataclass
class IngressProxy:
    """Maps INGRESS_PREFIX to the server's root, streaming bodies through, like the
    Supervisor's ingress proxy; records every path it was asked for."""

    upstream: str
    port: int = 0
    seen: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{INGRESS_PREFIX}"

    def run(self) -> Callable[[], None]:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        runner_box: list[web.AppRunner] = []

        async def forward(request: web.Request) -> web.StreamResponse:
            self.seen.append(request.path_qs)
            target = self.upstream + request.match_info["tail"]
            if request.query_string:
                target += "?" + request.query_string
            headers = {
                key: value
                for key, value in request.headers.items()
                if key.lower() not in ("host", "content-length", "transfer-encoding", "connection")
            }
            headers["X-Ingress-Path"] = INGRESS_PREFIX.rstrip("/")
            body = await request.read()  # the Supervisor reads request bodies whole
            session = request.app[SESSION]
            async with session.request(
                request.method, target, headers=headers, data=body or None,
                allow_redirects=False, auto_decompress=False,
            ) as answer:  # fmt: skip
                response = web.StreamResponse(status=answer.status)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        response.headers.add(key, value)
                await response.prepare(request)
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response

        async def stray(request: web.Request) -> web.Response:
            self.strays.append(request.path_qs)
            return web.Response(status=404, text="outside the ingress prefix")

        async def start() -> None:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app[SESSION] = ClientSession(timeout=ClientTimeout(total=SPEECH_TIMEOUT_S))

            async def close_session(app: web.Application) -> None:
                await app[SESSION].close()

            app.on_cleanup.append(close_session)
            app.router.add_route("*", INGRESS_PREFIX + "{tail:.*}", forward)
            app.router.add_route("*", "/{tail:.*}", stray)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = int(runner.addresses[0][1])
            runner_box.append(runner)

        def thread_main() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(runner_box[0].cleanup())
            loop.close()

        thread = threading.Thread(target=thread_main, name="ingress-proxy", daemon=True)
        thread.start()
        assert started.wait(10), "the proxy did not start"

        def stop() -> None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

        return stop


@pytest.fixture(scope="module")
def ingress(server: WebServer) -> Iterator[IngressProxy]:
    proxy = IngressProxy(server.url)
    stop = proxy.run()
    yield proxy
    stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium_profile")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--autoplay-policy=no-user-gesture-required",
        # A microphone that plays a beep, allowed without asking: recording is testable.
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1",
        "--window-size=1280,1600",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver is given by path: Selenium Manager has nothing to look up or download.
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(profile / "driver.log"))
    previous = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"
    try:
        driver = webdriver.Chrome(service=service, options=options)
    finally:
        if previous is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = previous
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


# --- helpers ---------------------------------------------------------------------------------


def wait(driver: WebDriver, timeout: float = UI_TIMEOUT_S) -> WebDriverWait:
    return WebDriverWait(
        driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )


def open_page(driver: WebDriver, url: str) -> None:
    """Opens the page and waits until it lists the voices; forgets earlier console output."""
    driver.get_log("browser")
    driver.get(url)
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#voices-body tr[data-voice]"))


def page_errors(driver: WebDriver) -> list[str]:
    """Uncaught JavaScript errors since the last look (failed requests are logged as well, by
    'network': the tests provoke some of those on purpose)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and entry.get("source") == "javascript"
    ]


def listed_voices(driver: WebDriver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#voices-body tr[data-voice]')]"
        ".map(row => row.dataset.voice)"
    )


def row_info(driver: WebDriver, name: str) -> dict[str, Any]:
    """One voice's row, read at once (the page redraws the list when voices change)."""
    info = driver.execute_script(
        "const row = [...document.querySelectorAll('#voices-body tr[data-voice]')]"
        "  .find(r => r.dataset.voice === arguments[0]);"
        "if (!row) return null;"
        "return {cells: [...row.cells].map(c => ({text: c.innerText.trim(), title: c.title})),"
        "  hints: [...row.querySelectorAll('.hint')].map(h => h.textContent),"
        "  actions: [...row.querySelectorAll('button[data-action]')].map(b => b.dataset.action),"
        "  play: row.querySelector('button[data-action=play]').getAttribute('aria-label')};",
        name,
    )
    assert info is not None, f"no row for {name!r}: {listed_voices(driver)}"
    return info


def click_in_row(driver: WebDriver, name: str, action: str) -> None:
    """Clicks a row's button like a user does, again if the list was redrawn meanwhile."""
    selector = f'#voices-body tr[data-voice="{name}"] button[data-action={action}]'

    def click(d: WebDriver) -> bool:
        d.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait(driver).until(click)


def wait_for_row(driver: WebDriver, name: str, timeout: float = SPEECH_TIMEOUT_S) -> None:
    """Waits until the list shows voice ``name``; fails at once when the page shows an error."""

    def shown_or_refused(d: WebDriver) -> bool:
        return name in listed_voices(d) or any(visible_errors(d).values())

    wait(driver, timeout).until(shown_or_refused)
    assert name in listed_voices(driver), visible_errors(driver)


def visible_errors(driver: WebDriver) -> dict[str, str]:
    return driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('.error')]"
        ".filter(e => e.textContent).map(e => [e.id, e.textContent]))"
    )


def api_voices(server: WebServer) -> dict[str, Any]:
    status, body = http_json(server.url + "v1/audio/voices")
    assert status == 200, body
    return body


def delete_voice(server: WebServer, name: str) -> None:
    http_json(server.url + "v1/audio/voices/" + urllib.request.quote(name), method="DELETE")


def finished_request(driver: WebDriver) -> dict[str, Any]:
    """Waits for the page's request to end; its figures (window.qwenTts.last)."""
    wait(driver, SPEECH_TIMEOUT_S).until(
        lambda d: (
            d.find_element(By.ID, "try-state").get_attribute("data-state") in ("done", "error")
        )
    )
    state = driver.find_element(By.ID, "try-state").get_attribute("data-state")
    assert state == "done", driver.find_element(By.ID, "try-error").text
    return driver.execute_script("return window.qwenTts.last")


def shown_figures(driver: WebDriver) -> tuple[float, float, float]:
    texts = [driver.find_element(By.ID, i).text for i in
             ("stat-first-audio-ms", "stat-audio-seconds", "stat-rtf")]  # fmt: skip
    return tuple(float(text) for text in texts)  # type: ignore[return-value]


def try_it(driver: WebDriver, text: str, voice: str, style: str = "") -> dict[str, Any]:
    box = driver.find_element(By.ID, "try-text")
    box.clear()
    box.send_keys(text)
    Select(driver.find_element(By.ID, "try-voice")).select_by_value(voice)
    if style:
        Select(driver.find_element(By.ID, "try-style")).select_by_value(style)
    driver.find_element(By.ID, "try-speak").click()
    return finished_request(driver)


def check_played(driver: WebDriver, figures: dict[str, Any]) -> None:
    """The request's figures on the page, and audio scheduled on the page's AudioContext."""
    first_ms, audio_s, rtf = shown_figures(driver)
    assert first_ms > 0 and audio_s > 0 and rtf > 0, (first_ms, audio_s, rtf)
    assert figures["bytes"] > 0 and figures["chunks"] >= 1
    assert abs(figures["scheduledSeconds"] - figures["audioSeconds"]) < 1e-3
    assert abs(figures["audioSeconds"] - audio_s) < 0.01
    assert figures["firstAudioMs"] <= figures["elapsedSeconds"] * 1000
    context = driver.execute_script(
        "const c = window.qwenTts.audio;"
        "return {state: c.state, rate: c.sampleRate, time: c.currentTime}"
    )
    assert context["state"] == "running" and context["rate"] == 24000, context


def fill_voice_form(driver: WebDriver, name: str, transcript: str, *, audio: Path | None = None,
                    language: str = "auto") -> None:  # fmt: skip
    for field_id, value in (("add-name", name), ("add-text", transcript)):
        element = driver.find_element(By.ID, field_id)
        element.clear()
        if value:
            element.send_keys(value)
    if audio is not None:
        driver.find_element(By.ID, "add-file").send_keys(str(audio))
    Select(driver.find_element(By.ID, "add-language")).select_by_value(language)


ERROR_IDS = ("error-name", "error-audio", "error-text", "error-language", "error-form")


def error_texts(driver: WebDriver) -> dict[str, str]:
    return {
        i: driver.execute_script(f"return document.getElementById('{i}').textContent")
        for i in ERROR_IDS
    }


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    path = tmp_path / "my recording.wav"
    write_reference(path, 3.0)
    return path


# --- the tests -------------------------------------------------------------------------------


def test_page_lists_the_voices(browser: WebDriver, server: WebServer) -> None:
    open_page(browser, server.url)
    offered = api_voices(server)
    assert listed_voices(browser) == offered["voices"]
    for detail in offered["details"]:
        info = row_info(browser, detail["name"])
        cells = info["cells"]
        assert cells[0]["text"].startswith(detail["name"])
        assert detail["description"] in cells[0]["text"]
        assert cells[1]["text"] == detail["kind"]
        assert cells[2]["title"] != ""
        for style in detail["styles"]:
            assert style in cells[3]["text"]
        assert info["play"] == f"Play a sample of {detail['name']}"
        assert ("remove" in info["actions"]) == (detail["kind"] != "premium")
    assert any(detail["styles"] for detail in offered["details"]), (
        "the 1.7B-tagged model has styles"
    )
    # This server has a VoiceDesign model: the page offers design.
    assert offered["design"] is True
    assert browser.find_element(By.ID, "design-card").is_displayed()
    # Everything the page loaded came from this server: nothing from a CDN.
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded and all(url.startswith(server.url) for url in loaded), loaded
    # Status, from GET health.
    wait(browser).until(lambda d: d.find_element(By.ID, "health-device").text != "–")
    status, health = http_json(server.url + "health")
    assert status == 200
    assert browser.find_element(By.ID, "health-device").text == health["device"] == "cpu"
    assert browser.find_element(By.ID, "health-models").text == ", ".join(health["models"])
    assert browser.find_element(By.ID, "health-voices").text == str(len(offered["voices"]))
    assert page_errors(browser) == []


def test_page_lists_the_pronunciation_lexicon(browser: WebDriver, server: WebServer) -> None:
    open_page(browser, server.url)
    wait(browser).until(
        lambda d: "Loading" not in d.find_element(By.ID, "lexicon-body").text
    )
    rows = [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in browser.find_elements(By.CSS_SELECTOR, "#lexicon-body tr")
    ]
    assert rows == [
        ["HA", "Home Assistant", "all"],
        ["Nguyen (any case)", "Win", "English"],
    ]
    assert page_errors(browser) == []


def test_try_it_plays_audio_while_it_is_generated(browser: WebDriver, server: WebServer) -> None:
    open_page(browser, server.url)
    voice = next(d for d in api_voices(server)["details"] if d["styles"])
    figures = try_it(browser, "Good morning! The kitchen lights are on.", voice["name"])
    check_played(browser, figures)
    assert figures["voice"] == voice["name"]
    if figures["audioSeconds"] >= 1.0:  # a dozen frames or more: they come in several chunks
        assert figures["chunks"] >= 2 and figures["playedBeforeEnd"], figures
    assert figures["instructions"] is None
    # With a style: the request carries it as the instruction.
    figures = try_it(browser, "Time for bed.", voice["name"], style=voice["styles"][0])
    check_played(browser, figures)
    assert figures["instructions"] == voice["styles"][0]
    # The chart keeps the last requests' figures and draws them.
    history = browser.execute_script("return window.qwenTts.history")
    assert len(history) == 2 and all(h["firstAudioMs"] > 0 and h["rtf"] > 0 for h in history)
    chart = browser.find_element(By.ID, "chart-svg")
    assert chart.get_attribute("data-points") == "2"
    assert len(chart.find_elements(By.CSS_SELECTOR, "rect.bar-first")) == 2
    assert len(chart.find_elements(By.CSS_SELECTOR, "rect.bar-rtf")) == 2
    # The play button of a row speaks a sample in that voice.
    click_in_row(browser, voice["name"], "play")
    wait(browser, SPEECH_TIMEOUT_S).until(
        lambda d: (
            len(d.execute_script("return window.qwenTts.history")) == 3
            or d.find_element(By.ID, "try-state").get_attribute("data-state") == "error"
        )
    )
    figures = finished_request(browser)
    check_played(browser, figures)
    # A short sentence in the voice's language (the browser's, English, where it has that).
    assert figures["voice"] == voice["name"] and figures["input"] == "Hello! This is how I sound."
    assert page_errors(browser) == []


def test_uploading_a_wav_adds_a_voice_that_plays_and_can_be_removed(
    browser: WebDriver, server: WebServer, reference: Path
) -> None:
    name = "Web Upload"
    open_page(browser, server.url)
    assert name not in listed_voices(browser)
    fill_voice_form(browser, name, "Hello, this is my voice for the test.", audio=reference,
                    language="en")  # fmt: skip
    browser.find_element(By.ID, "add-submit").click()
    try:
        wait_for_row(browser, name)
        added = next(d for d in api_voices(server)["details"] if d["name"] == name)
        assert added["kind"] == "cloned" and added["languages"] == ["en"]
        info = row_info(browser, name)
        assert info["cells"][1]["text"] == "cloned" and info["cells"][2]["text"] == "en"
        assert error_texts(browser) == dict.fromkeys(ERROR_IDS, "")
        # Outside the add-on nobody can tell Home Assistant: the page says what to reload.
        assert len(info["hints"]) == 1 and "reload" in info["hints"][0].lower()
        # The new voice is chosen in "try it", and it can be played at once.
        assert Select(browser.find_element(By.ID, "try-voice")).first_selected_option.text == name
        click_in_row(browser, name, "play")
        check_played(browser, finished_request(browser))
        assert browser.execute_script("return window.qwenTts.last.voice") == name

        # Removing asks first; saying no keeps the voice.
        click_in_row(browser, name, "remove")
        alert = wait(browser).until(lambda d: d.switch_to.alert)
        assert name in alert.text
        alert.dismiss()
        time.sleep(0.3)
        assert name in listed_voices(browser)
        assert name in api_voices(server)["voices"]
        click_in_row(browser, name, "remove")
        wait(browser).until(lambda d: d.switch_to.alert).accept()
        wait(browser).until(lambda d: name not in listed_voices(d))
        assert name not in api_voices(server)["voices"]
        notice = browser.find_element(By.ID, "voices-notice")
        assert notice.is_displayed() and name in notice.text and "reload" in notice.text.lower()
    finally:
        try:
            browser.switch_to.alert.dismiss()
        except NoAlertPresentException:
            pass
        delete_voice(server, name)
    assert page_errors(browser) == []


BAD_UPLOADS = [
    # (name, transcript, audio kind, the field the server names)
    ("a/b", "Hello there.", "wav", "name"),
    ("..", "Hello there.", "wav", "name"),
    ("Fine Name", "", "wav", "text"),
    ("Fine Name", "Hello there.", "text file", "audio"),
    ("Fine Name", "Hello there.", None, "audio"),
]


def same_words(shown: str, answered: str) -> bool:
    def words(text: str) -> str:
        return re.sub(r"upload-\w+", "upload-*", text)

    return words(shown) == words(answered)


@pytest.mark.parametrize(("name", "transcript", "audio", "param"), BAD_UPLOADS)
def test_a_bad_upload_shows_the_servers_message_next_to_its_field(
    browser: WebDriver, server: WebServer, tmp_path: Path, reference: Path,
    name: str, transcript: str, audio: str | None, param: str,
) -> None:  # fmt: skip
    path: Path | None = None
    if audio == "wav":
        path = reference
    elif audio == "text file":
        path = tmp_path / "notes.wav"
        path.write_text("this is not audio\n")
    # What the server says to this upload, asked directly.
    files = {"audio": (path.name, path.read_bytes())} if path else {}
    body, content_type = multipart({"name": name, "text": transcript}, files)
    status, answer = http_json(server.url + "v1/audio/voices", method="POST", data=body,
                               headers={"Content-Type": content_type})  # fmt: skip
    assert 400 <= status < 500 and answer["error"]["param"] == param, answer
    before = api_voices(server)["voices"]

    open_page(browser, server.url)
    fill_voice_form(browser, name, transcript, audio=path)
    browser.find_element(By.ID, "add-submit").click()
    field_id = f"error-{param}"
    wait(browser).until(lambda d: d.find_element(By.ID, field_id).text)
    received = browser.execute_script("return window.qwenTts.lastError")
    assert received["param"] == param and received["status"] == status
    shown = error_texts(browser)
    assert shown[field_id] == received["message"]
    # The same words as the direct answer (a temporary folder's random name aside).
    assert same_words(shown[field_id], answer["error"]["message"])
    assert all(text == "" for key, text in shown.items() if key != field_id), shown
    # Beside its field: the message follows the input it concerns.
    input_id = {"name": "add-name", "text": "add-text", "audio": "add-file"}[param]
    assert browser.find_element(By.ID, input_id).get_attribute("aria-invalid") == "true"
    assert browser.execute_script(
        "const [a, b] = arguments;"
        "return !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING)"
        " && a.closest('fieldset') === b.closest('fieldset')",
        browser.find_element(By.ID, input_id), browser.find_element(By.ID, field_id),
    )  # fmt: skip
    assert api_voices(server)["voices"] == before
    assert page_errors(browser) == []


def recorded_seconds(driver: WebDriver) -> float:
    """The seconds the page says it has recorded so far ("Recording… 2.4 s")."""
    found = re.search(r"([\d.]+) s", driver.find_element(By.ID, "record-state").text)
    return float(found[1]) if found else 0.0


def test_a_recording_from_the_microphone_is_a_wav_the_server_takes(
    browser: WebDriver, server: WebServer
) -> None:
    name = "Web Mic"
    open_page(browser, server.url)
    assert browser.find_element(By.ID, "mic-unavailable").is_displayed() is False
    record = browser.find_element(By.ID, "record-button")
    assert record.is_enabled()
    record.click()
    wait(browser).until(lambda d: recorded_seconds(d) >= 5.0)
    record.click()
    wait(browser).until(lambda d: "Recorded" in d.find_element(By.ID, "record-state").text)
    assert browser.execute_script("return window.qwenTts.recordedWith") == "AudioWorklet"
    wav_b64 = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const reader = new FileReader();"
        "reader.onload = () => done(reader.result.split(',')[1]);"
        "reader.readAsDataURL(window.qwenTts.recorded);"
    )
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(wav_b64)), dtype="float32")
    info = soundfile.info(io.BytesIO(base64.b64decode(wav_b64)))
    assert info.format == "WAV" and info.subtype == "PCM_16" and info.channels == 1
    assert rate == 24000 and 4.5 <= len(samples) / rate <= 12.0
    assert float(np.abs(samples).max()) > 1e-2, "the fake microphone beeps"
    assert browser.find_element(By.ID, "record-preview").is_displayed()

    fill_voice_form(browser, name, "Beep, beep, beep.")
    browser.find_element(By.ID, "add-submit").click()
    try:
        wait_for_row(browser, name)
        assert error_texts(browser) == dict.fromkeys(ERROR_IDS, "")
    finally:
        delete_voice(server, name)
    assert page_errors(browser) == []


def test_without_a_secure_origin_the_page_offers_upload_instead_of_the_microphone(
    browser: WebDriver, server: WebServer
) -> None:
    open_page(browser, f"http://{INSECURE_HOST}:{server.port}/")
    assert browser.execute_script("return window.isSecureContext") is False
    note = browser.find_element(By.ID, "mic-unavailable")
    assert note.is_displayed() and "HTTPS" in note.text and "upload" in note.text.lower()
    assert not browser.find_element(By.ID, "record-button").is_enabled()
    assert browser.find_element(By.ID, "add-file").is_enabled()
    assert page_errors(browser) == []


def test_designing_a_voice_previews_retries_and_keeps(
    browser: WebDriver, server: WebServer
) -> None:
    name = "Web Designed"
    open_page(browser, server.url)
    browser.find_element(By.ID, "design-description").send_keys("A warm, calm voice of an old man")
    Select(browser.find_element(By.ID, "design-language")).select_by_value("en")
    seed = browser.find_element(By.ID, "design-seed")
    seed.clear()
    seed.send_keys("1")

    def previewed(seed_value: int) -> tuple[str, float]:
        wait(browser, SPEECH_TIMEOUT_S).until(
            lambda d: (
                f"seed {seed_value}." in d.find_element(By.ID, "design-state").text
                or d.find_element(By.ID, "design-error").text
            )
        )
        assert browser.find_element(By.ID, "design-error").text == ""
        audio = browser.find_element(By.ID, "design-audio")
        wait(browser).until(
            lambda d: d.execute_script("return arguments[0].readyState", audio) >= 1
        )
        duration = browser.execute_script("return arguments[0].duration", audio)
        return browser.execute_script("return window.qwenTts.preview.id"), duration

    browser.find_element(By.ID, "design-preview").click()
    first_id, duration = previewed(1)
    assert first_id and duration > 0.5
    browser.find_element(By.ID, "design-retry").click()
    second_id, duration = previewed(2)
    assert browser.find_element(By.ID, "design-seed").get_attribute("value") == "2"
    assert second_id and second_id != first_id and duration > 0.5
    browser.find_element(By.ID, "design-name").send_keys(name)
    browser.find_element(By.ID, "design-keep").click()
    try:
        wait_for_row(browser, name)
        kept = next(d for d in api_voices(server)["details"] if d["name"] == name)
        assert kept["kind"] == "designed"
        assert row_info(browser, name)["cells"][1]["text"] == "designed"
    finally:
        delete_voice(server, name)
    assert page_errors(browser) == []


def test_the_page_works_under_an_ingress_path_prefix(
    browser: WebDriver, server: WebServer, ingress: IngressProxy, reference: Path
) -> None:
    name = "Web Ingress"
    open_page(browser, ingress.url)
    assert listed_voices(browser) == api_voices(server)["voices"]
    voice = listed_voices(browser)[0]
    check_played(browser, try_it(browser, "Hello from the sidebar.", voice))
    wait(browser).until(lambda d: d.find_element(By.ID, "health-device").text == "cpu")
    # A voice added and removed through the prefix.
    fill_voice_form(browser, name, "Hello, this is my voice for the test.", audio=reference)
    browser.find_element(By.ID, "add-submit").click()
    try:
        wait_for_row(browser, name)
        click_in_row(browser, name, "remove")
        wait(browser).until(lambda d: d.switch_to.alert).accept()
        wait(browser).until(lambda d: name not in listed_voices(d))
    finally:
        delete_voice(server, name)
    # Every request the page made went through the prefix; none left it.
    assert ingress.strays == [], ingress.strays
    asked = set(ingress.seen)
    for path in ("", "static/app.js", "static/style.css", "v1/audio/voices", "health",
                 "v1/audio/speech", f"v1/audio/voices/{urllib.request.quote(name)}"):  # fmt: skip
        assert INGRESS_PREFIX + path in asked, (path, sorted(asked))
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert all(url.startswith(ingress.url) for url in loaded), loaded
    assert page_errors(browser) == []


@pytest.fixture(scope="module")
def token_server(
    custom_voice_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    running = _start_web_server(
        tmp_path_factory, "web_token", ["--custom-voice-model", str(custom_voice_checkpoint)],
        ["--http-token", TOKEN],
    )  # fmt: skip
    yield running
    running.running.stop()


def test_a_server_with_a_token_asks_for_it_once(
    browser: WebDriver, token_server: WebServer
) -> None:
    status, _ = http_json(token_server.url + "v1/audio/voices")
    assert status == 401
    # The page and its files hold no secret: they load without the token, so that the page
    # can ask for it (the API behind them does not).
    for path in ("", "static/app.js", "static/style.css"):
        assert http_status(token_server.url + path) == 200, f"GET /{path} needs the token"
    browser.get_log("browser")
    browser.get(token_server.url)
    box = browser.find_element(By.ID, "token-box")
    wait(browser).until(lambda d: box.is_displayed())
    entry = browser.find_element(By.ID, "token-input")
    entry.send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#voices-body tr[data-voice]"))
    assert not box.is_displayed()
    assert browser.execute_script("return sessionStorage.length") == 1
    check_played(browser, try_it(browser, "Good night.", listed_voices(browser)[0]))
    # A reload keeps the token for this tab: no second prompt.
    open_page(browser, token_server.url)
    assert not browser.find_element(By.ID, "token-box").is_displayed()
    assert page_errors(browser) == []
