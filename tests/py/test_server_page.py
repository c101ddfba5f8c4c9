"""The built-in chat page (GET /) in headless Chromium (Debian chromium +
chromium-driver, driven by selenium with the local driver — no downloads):
type a message, press Enter, and the assistant's reply streams in."""
import shutil
import time

import pytest

from test_server import F8, Server, model_path  # noqa: F401  (fixture re-export)

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.skipif(not F8.exists(), reason="f8 not built"),
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="chromium / chromium-driver not installed")]


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def wait_for(fn, timeout=120, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def test_chat_page_streams_a_reply(model_path, browser):  # noqa: F811
    s = Server(model_path, "--slots", 1, "-c", 256).wait_ready()
    try:
        browser.get(s.url + "/")
        assert browser.title == "f8 chat"
        assert wait_for(lambda: browser.find_element(By.ID, "model").text == "tiny", 30)
        browser.execute_script("document.getElementById('maxtok').value = 24;"
                               "document.getElementById('temp').value = 0;")
        # Record every distinct length the reply passes through: a streamed
        # reply grows in several steps, a buffered one appears at once.
        browser.execute_script("""
            window.__lens = [];
            new MutationObserver(() => {
              const a = document.querySelector('.msg.assistant');
              if (a) window.__lens.push(a.textContent.length);
            }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});
        """)
        box = browser.find_element(By.ID, "input")
        box.send_keys("Hello there, who are you?")
        box.send_keys(Keys.ENTER)
        assert wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".msg.user"), 10)
        assert browser.find_element(By.CSS_SELECTOR, ".msg.user").text == "Hello there, who are you?"
        state = wait_for(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-state")
                         in ("idle", "error") and browser.find_elements(By.CLASS_NAME, "stats"), 120)
        assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "idle", \
            browser.find_element(By.ID, "log").text
        assert state
        reply = browser.find_element(By.CSS_SELECTOR, ".msg.assistant").get_attribute("textContent")
        lens = [n for n in browser.execute_script("return window.__lens;") if n > 0]
        # The page's reply equals the API's greedy answer to the same conversation.
        import requests
        r = requests.post(s.url + "/v1/chat/completions", json={
            "messages": [{"role": "user", "content": "Hello there, who are you?"}],
            "max_tokens": 24, "temperature": 0}).json()
        assert reply == r["choices"][0]["message"]["content"]
        if r["usage"]["completion_tokens"] >= 4 and len(reply) >= 4:
            assert len(set(lens)) >= 2, f"reply did not stream: lengths {lens}"
    finally:
        assert s.stop() == 0
