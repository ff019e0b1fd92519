"""The web app in a real browser: Debian's Chromium driven by Playwright (``make test-browser``).

Opens the page, uploads a generated song, waits for the separation, plays the stems (the audio elements advance),
reloads, finds the song in the history, opens it again and saves a screenshot to ``build/screenshots/app.png``.
Skipped where Chromium or Playwright is missing, unless ``REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from helpers import audio, config, songs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "app.png"


def require(condition, reason):
    if not condition:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("fastapi")
    import uvicorn

    from helpers.app import Settings, create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = tmp_path_factory.mktemp("app")
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(root=root)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(30)


def test_upload_separate_play_and_find_it_in_the_history(server, tmp_path):
    require(CHROMIUM, "Debian's chromium is not installed (make browser)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        require(False, "playwright is not installed (make browser)")
    signals, plan = songs.numpy_engine.make_song(seed=7, index=0, subset="test", duration=8.0)
    song = audio.save(tmp_path / "generated song.wav", signals["mixture"], config.DATASET_SAMPLE_RATE,
                      subtype="PCM_16")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server)
        expect(page.locator("input[name=target]")).to_have_count(3)  # vocals, drums, bass: the first two ticked
        expect(page.locator("input[name=target]:checked")).to_have_count(2)
        page.set_input_files("#file", str(song))
        page.click("#go")
        expect(page.locator("#message")).to_contain_text("Done: generated song.wav", timeout=120_000)
        expect(page.locator(".stem")).to_have_count(3)
        expect(page.locator(".stem img").first).to_have_js_property("complete", True)
        page.click("#play")
        page.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.currentTime > 0.5)",
                               timeout=15_000)
        times = page.evaluate("[...document.querySelectorAll('audio')].map(a => a.currentTime)")
        assert max(times) - min(times) < 0.2  # the stems play together
        page.locator(".stem").nth(1).locator(".mute").click()  # mute the drums: the button shows it
        expect(page.locator(".stem").nth(1).locator(".mute")).to_have_class("mute on")
        page.click("#play")  # pause
        page.reload()
        expect(page.locator("#history li .title")).to_have_text(["generated song.wav"])
        page.locator("#history li button", has_text="Open").click()
        expect(page.locator(".stem")).to_have_count(3)
        page.wait_for_function("[...document.querySelectorAll('.stem img')].every(i => i.complete && "
                               "i.naturalWidth > 0)")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert not errors, errors
