"""The web chat in a real browser (Debian chromium driven by playwright) against a live server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from bot import outbox
from bot.config import Config
from bot.runtime import Runtime, build
from bot.settings import ROOT, Settings
from bot.web import create_app
from tests.conftest import EXERCISES_PATH, IN_CI, Clock, answers_with

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PHONE = {"width": 390, "height": 844}
SCREENSHOT = ROOT / "docs" / "chat-mobile.png"
BOOKING = "https://impactptandperformance.com/book"
CALLBACK = "(949) 555-0123"


def texts(path: list[tuple[str, str]]) -> list[str]:
    return ["Hi, my knee hurts when I run", *(text for _, text in path)]


OUTCOMES = {
    "exercises": (texts(EXERCISES_PATH), "home ankle program"),
    "book_call": (texts(answers_with(pain_run="8")), "6/10 or more"),
    "urgent": (["hi", "y", "0", "55", "yes"], "medical care today"),
    "emergency": (["hi", "yes", "1"], "call 911 now"),
    "priority_call": (["hi", "y", "0", "40", "n", "0", "3"], "within one business day"),
}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (make system-deps)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


class Live:
    """The app served by a real HTTP server in a thread, on fakeredis, embedded-style."""

    def __init__(self, runtime: Runtime) -> None:
        from werkzeug.serving import make_server

        self.runtime = runtime
        self.server = make_server("127.0.0.1", 0, create_app(runtime.settings, runtime=runtime),
                                  threaded=True)  # fmt: skip
        self.url = f"http://127.0.0.1:{self.server.server_port}/chat"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live(config: Config, clock: Clock, tmp_path: Path) -> Iterator[Live]:
    settings = Settings(secret_key="browser-test-secret", spool_dir=tmp_path / "spool")
    runtime = build(settings, client=fakeredis.FakeRedis(decode_responses=True), clock=clock,
                    config=config)  # fmt: skip
    server = Live(runtime)
    yield server
    server.stop()


class Chat:
    """A person at the chat page: types into the box and presses Enter, like a person would."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.url = url
        self.replies: list[str] = []
        self.open()

    def open(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_selector(".app[data-ready=true]")

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_selector(".app[data-ready=true]")

    def send(self, text: str) -> list[str]:
        box = self.page.get_by_role("textbox", name="Message to Impact PT")
        box.fill(text)
        with self.page.expect_response(lambda r: r.url.endswith("/chat/api/message")) as info:
            box.press("Enter")
        self.replies = info.value.json().get("replies", [])
        self.page.locator("#typing").wait_for(state="hidden")  # not wait_for_function: CSP
        return self.replies

    def bubbles(self, who: str) -> list[str]:
        found: list[str] = self.page.locator(f"#log .{who} .text").all_text_contents()
        return found

    def focused_id(self) -> str:
        return str(self.page.evaluate("document.activeElement && document.activeElement.id"))


@pytest.fixture
def chat(chromium: Any, live: Live) -> Iterator[Chat]:
    context = chromium.new_context(viewport=PHONE)
    yield Chat(context.new_page(), live.url)
    context.close()


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_a_full_conversation_reaches_each_outcome(chat: Chat, live: Live, outcome: str) -> None:
    answers, expected = OUTCOMES[outcome]
    for text in answers:
        chat.send(text)
    log = chat.page.locator("#log")
    assert expected in log.inner_text()
    assert chat.bubbles("you") == answers
    finished = {record["outcome"] for record in live.runtime.service.export()}
    assert finished == {outcome}
    if outcome != "exercises":  # escalations ask the web visitor for a number, then alert staff
        chat.send(CALLBACK)
        assert outbox.queued(live.runtime.redis)  # the staff alert, in its lane


def test_typed_html_is_shown_as_text_and_never_runs(chat: Chat) -> None:
    payloads = ["<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=1">']
    for payload in payloads:
        chat.send(payload)
    assert chat.bubbles("you") == payloads
    assert chat.page.evaluate("typeof window.__xss") == "undefined"
    assert chat.page.locator("#log img, #log script").count() == 0
    chat.reload()  # and again when the transcript comes back from the server
    assert chat.bubbles("you") == payloads
    assert chat.page.evaluate("typeof window.__xss") == "undefined"


def test_a_reload_keeps_the_conversation_and_its_place(chat: Chat) -> None:
    chat.send("hi")
    chat.send("yes")
    before = (chat.bubbles("you"), chat.bubbles("bot"))
    chat.reload()
    assert (chat.bubbles("you"), chat.bubbles("bot")) == before
    assert "How old are you" in chat.send("0")[0]


def test_enter_sends_shift_enter_does_not_and_focus_stays_in_the_box(chat: Chat) -> None:
    box = chat.page.locator("#msg")
    assert chat.focused_id() == "msg"
    chat.send("hi")
    assert chat.focused_id() == "msg" and box.input_value() == ""
    box.type("line one")
    box.press("Shift+Enter")
    assert chat.bubbles("you") == ["hi"] and box.input_value() == "line one\n"
    box.fill("yes")
    with chat.page.expect_response(lambda r: r.url.endswith("/chat/api/message")):
        chat.page.get_by_role("button", name="Send").click()
    assert chat.bubbles("you") == ["hi", "yes"] and chat.focused_id() == "msg"


def test_links_and_phone_numbers_are_clickable(chat: Chat) -> None:
    for text in texts(answers_with(pain_run="8")):
        chat.send(text)
    log = chat.page.locator("#log")
    booking = log.locator(f'a[href="{BOOKING}"]')
    assert booking.count() >= 1 and booking.first.inner_text() == BOOKING
    assert log.locator('a[href="tel:+19494091339"]', has_text="(949) 409-1339").count() >= 1
    assert log.locator('a[href="tel:911"]').count() >= 1
    hrefs = log.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith(("https://", "tel:")) for h in hrefs)
    header = chat.page.locator("header a[href='tel:+19494091339']")
    assert header.count() == 1
    footer = chat.page.locator("footer").inner_text()
    assert footer == "Not medical advice. In an emergency call 911."


def test_errors_from_the_server_are_shown_in_the_chat(chat: Chat) -> None:
    message = "You're sending messages too quickly. Please wait 30 seconds and try again."
    chat.page.route("**/chat/api/message", lambda route: route.fulfill(
        status=429, json={"error": "rate_limited", "message": message}))  # fmt: skip
    chat.send("hi")
    assert chat.page.locator("#log .note").inner_text() == message
    assert chat.focused_id() == "msg"


def test_the_page_is_accessible_to_screen_readers(chat: Chat) -> None:
    log = chat.page.get_by_role("log", name="Conversation")
    assert log.get_attribute("aria-live") == "polite"
    assert chat.page.get_by_role("textbox", name="Message to Impact PT").is_visible()
    assert chat.page.get_by_role("heading", name="Impact Physical Therapy and Performance")
    chat.send("hi")
    assert "Assistant:" in log.inner_text()  # each reply announced with who said it


def test_a_phone_width_screenshot(chromium: Any, live: Live) -> None:
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                   has_touch=True, reduced_motion="reduce")  # fmt: skip
    chat = Chat(context.new_page(), live.url)
    for text in ("Hi, my knee hurts when I run", "yes"):
        chat.send(text)
    width = chat.page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing overflows sideways on a phone
    SCREENSHOT.parent.mkdir(exist_ok=True)
    chat.page.screenshot(path=str(SCREENSHOT))
    context.close()
    assert SCREENSHOT.stat().st_size > 10_000
