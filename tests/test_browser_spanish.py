"""The Spanish web chat in a real browser: the page, its label, its replies, its errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import test_browser
from tests.test_browser import PHONE, Chat, Live
from tests.test_spanish import es_path

chromium, live, chat = test_browser.chromium, test_browser.live, test_browser.chat  # fixtures

pytestmark = pytest.mark.browser


class ChatES(Chat):
    def send(self, text: str) -> list[str]:
        box = self.page.get_by_role("textbox", name="Mensaje para Impact PT")
        box.fill(text)
        with self.page.expect_response(lambda r: r.url.endswith("/chat/api/message")) as info:
            box.press("Enter")
        self.replies = info.value.json().get("replies", [])
        self.page.locator("#typing").wait_for(state="hidden")
        return self.replies


@pytest.fixture
def chat_es(chromium: Any, live: Live) -> Iterator[ChatES]:
    context = chromium.new_context(viewport=PHONE, locale="es-MX")
    yield ChatES(context.new_page(), live.url)
    context.close()


def test_a_spanish_browser_gets_the_chat_in_spanish_to_the_home_program(
    chat_es: ChatES, live: Live
) -> None:
    page = chat_es.page
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("log", name="Conversación").get_attribute("aria-live") == "polite"
    assert page.get_by_role("button", name="Enviar").is_visible()
    assert (
        page.locator("footer").inner_text()
        == "No es consejo médico. En una emergencia llame al 911."
    )
    first = chat_es.send("hola")
    assert "Soy el asistente automático" in first[0] and "¿Empezamos?" in first[-1]
    for text in es_path():
        chat_es.send(text)
    log = page.locator("#log").inner_text()
    assert (
        "programa de tobillo en casa" in log and "Liberación de pantorrilla" in log
    )  # accents kept on the web
    assert "Asistente:" in log  # each reply announced with who said it, in Spanish
    assert [r["outcome"] for r in live.runtime.service.export()] == ["exercises"]


def test_errors_are_shown_in_the_page_language(chat_es: ChatES) -> None:
    chat_es.page.route("**/chat/api/message", lambda route: route.fulfill(
        status=429, json={"error": "rate_limited", "message": "You're sending messages too quickly."}))  # fmt: skip
    chat_es.send("hola")
    note = chat_es.page.locator("#log .note").inner_text()
    assert note == "Está enviando mensajes muy rápido. Espere un minuto e intente de nuevo."


def test_the_english_page_links_to_spanish(chat: Chat) -> None:
    chat.page.get_by_role("link", name="En español").click()
    chat.page.wait_for_selector(".app[data-ready=true]")
    assert chat.page.locator("html").get_attribute("lang") == "es"
    assert chat.page.get_by_role("textbox", name="Mensaje para Impact PT").is_visible()


def test_the_page_follows_the_conversation_into_spanish(chat: Chat) -> None:
    box = chat.page.get_by_role("textbox", name="Message to Impact PT")
    box.fill("Hola, me duele la rodilla cuando corro")
    box.press("Enter")  # detected as Spanish: the page reloads in Spanish, the transcript kept
    chat.page.wait_for_selector("html[lang=es] .app[data-ready=true]")
    assert chat.page.get_by_role("textbox", name="Mensaje para Impact PT").is_visible()
    log = chat.page.locator("#log")
    assert "Soy el asistente automático" in log.inner_text()
    assert log.locator(".you .text").all_text_contents() == [
        "Hola, me duele la rodilla cuando corro"
    ]
