"""Spanish, end to end: people who text in Spanish get the same care, in Spanish.

Transcripts through the service (the same path as the webhook), with the clinic's default
content: config/lang/es.yaml and templates/sms/es/. Messages go out folded to GSM-7 (sms_encoding
gsm7), so assertions compare without accents.
"""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot import keys
from bot.background import Background
from bot.config import Config
from bot.core.model import Inbound
from bot.core.options import fold
from bot.errors import BotError
from bot.render import Renderer, is_gsm7, segments
from bot.runtime import Runtime
from bot.settings import ROOT, Settings
from bot.simulator import run_chat
from tests.conftest import Clock
from tests.test_personas import LA, START, Patient

ES_EXERCISES_PATH = [
    ("consent", "sí, claro"), ("red_flags", "ninguno"), ("age", "treinta y cuatro"),
    ("injury", "no, fue poco a poco"), ("mechanical", "ninguna"), ("systemic", "nada de eso"),
    ("location", "alrededor de la rótula"), ("pain_rest", "dos"), ("pain_run", "un 3 de 10"),
    ("settles", "sí, se me quita"), ("duration", "unas semanas"), ("calf_stiff", "sí, muy rígidas"),
    ("ktw", "izquierda 8 derecha 12"),
]  # fmt: skip


def es_path(**changes: str) -> list[str]:
    return [changes.get(qid, text) for qid, text in ES_EXERCISES_PATH]


class Phone:
    """A person texting the clinic; `said` is the last reply, accents folded."""

    def __init__(self, rt: Runtime, clock: Clock, number: str = "+13105550177") -> None:
        self.rt, self.clock, self.number, self.sent = rt, clock, number, 0
        self.replies: list[str] = []
        self.background = Background.console(rt)
        self.to_staff: list[str] = []

    def text(self, body: str) -> str:
        self.sent += 1
        handled = self.rt.service.handle_inbound(
            self.number, Inbound(body), self.clock(), f"SM{self.sent:032d}"
        )
        self.replies = handled.replies
        self.clock.advance(seconds=30)
        self.to_staff += [b for to, b in self.background.step(self.clock()) if to != self.number]
        return fold(" ".join(self.replies))

    def intake(
        self, answers: list[str], first: str = "Hola, me duele la rodilla cuando corro"
    ) -> str:
        said = self.text(first)
        assert "Asistente automatico" in said and "Empezamos?" in said, said
        for answer in answers:
            said = self.text(answer)
        return said

    @property
    def lang(self) -> str | None:
        return self.rt.store.load(self.number).lang

    def staff(self) -> list[str]:
        return [fold(m) for m in self.to_staff]


@pytest.fixture
def phone(runtime: Runtime, clock: Clock) -> Phone:
    return Phone(runtime, clock)


def test_a_spanish_first_message_gets_spanish_and_the_language_is_kept(phone: Phone) -> None:
    said = phone.text("Hola, me duele la rodilla cuando corro")
    assert "No es consejo medico" in said and "llame al 911" in said and "PARAR" in said
    assert "English: EN" in said
    assert phone.lang == "es"
    assert "dolor de pecho o dificultad para respirar" in phone.text("si")


@pytest.mark.parametrize("first", ["hi", "ok", "no", "hello, my knee hurts when I run", "45"])
def test_english_or_too_short_texts_get_english_and_the_offer_of_spanish(
    phone: Phone, first: str
) -> None:
    said = phone.text(first)
    assert "It is not medical advice" in said and "Espanol: responda ES" in said
    assert phone.lang in (None, "en")


def test_the_full_intake_in_spanish_words_ends_in_the_home_program(phone: Phone) -> None:
    said = phone.intake(es_path())
    assert said.startswith("Buenas noticias: su dolor es manejable y se calma")
    assert "Liberacion de pantorrilla con pelota de lacrosse" in said
    assert "Responda una hora como 8am o 6 de la tarde, o NO" in said
    record = phone.rt.service.export()[0]
    assert record["outcome"] == "exercises"
    assert record["answers"]["age"] == 34 and record["answers"]["pain_run"] == 3
    assert record["answers"]["ktw"] == {"left": 8.0, "right": 12.0}


@pytest.mark.parametrize(
    ("changes", "outcome", "says"),
    [
        ({"pain_run": "siete"}, "book_call", "su dolor al correr es de 6/10 o mas"),
        ({"duration": "hace años"}, "book_call", "lleva mas de 12 semanas"),
        ({"red_flags": "pantorrilla hinchada y caliente"}, "urgent", "busque atencion medica hoy"),
        ({"red_flags": "1"}, "emergency", "llame al 911 ahora"),
        ({"systemic": "antecedentes de cáncer"}, "priority_call", "dentro de un dia habil"),
        ({"injury": "sí, me caí", "age": "sesenta"}, "urgent", "lesion reciente a los 55"),
    ],
)
def test_every_outcome_is_reached_and_explained_in_spanish(
    phone: Phone, changes: dict[str, str], outcome: str, says: str
) -> None:
    answers = es_path(**changes)
    if outcome != "book_call":  # red flags end the questionnaire at once
        qids = [qid for qid, _ in ES_EXERCISES_PATH]
        answers = answers[: max(qids.index(q) for q in changes) + 1]
    said = phone.intake(answers)
    assert says in said, said
    assert phone.rt.service.export()[0]["outcome"] == outcome


def test_staff_alerts_say_the_person_speaks_spanish(phone: Phone) -> None:
    phone.intake(es_path(red_flags="2"))
    alerts = phone.staff()
    assert alerts and all("habla espanol (Spanish speaker)" in a for a in alerts)
    assert "URGENT alert" in alerts[0]  # staff are written to in the clinic's language


def test_help_in_spanish_re_asks_the_question(phone: Phone) -> None:
    phone.intake(es_path()[:2])
    said = phone.text("AYUDA")
    assert "Pueden aplicar tarifas" in said and "Responda PARAR" in said
    assert said.endswith("Responda con un numero, o diga donde.") is False
    assert "Cuantos anos tiene?" in said
    assert "Cuantos anos tiene?" in phone.text("HELP")  # the English word, the person's language


@pytest.mark.parametrize("stop", ["PARAR", "alto", "Cancelar", "BAJA", "no más", "STOP"])
def test_stop_words_in_spanish_opt_out_with_a_spanish_confirmation(phone: Phone, stop: str) -> None:
    phone.intake(es_path()[:3])
    said = phone.text(stop)
    assert "no recibira mas mensajes" in said and "COMENZAR" in said
    assert phone.rt.store.is_opted_out(phone.number)
    assert phone.text("hola") == ""  # nothing more is sent
    assert "Volvio a suscribirse" in phone.text("COMENZAR")


def test_an_english_speaker_who_texts_parar_is_answered_in_english(phone: Phone) -> None:
    phone.text("hi")
    assert "You're unsubscribed" in phone.text("parar")
    assert "opted back in" in phone.text("INICIAR")


def test_switching_language_mid_questionnaire_asks_the_same_question_again(phone: Phone) -> None:
    phone.text("hi")
    assert "chest pain" in phone.text("yes")
    said = phone.text("ESPAÑOL")
    assert "le escribimos en espanol" in said and "dolor de pecho" in said
    assert phone.lang == "es"
    assert "Cuantos anos tiene?" in phone.text("ninguno")
    said = phone.text("english")
    assert "in English from now on" in said and "How old are you" in said
    assert "Did it start with a fall" in phone.text("34")
    assert phone.lang == "en"


def test_yes_no_numbers_and_unsure_in_spanish(phone: Phone) -> None:
    phone.intake(["simón"])
    phone.text("nada")
    assert "Empezo con una caida" in phone.text("cuarenta y cinco")
    said = phone.text("no sé")
    assert "Si no esta seguro" in said  # "no sé" is never read as No
    assert "Su rodilla" in phone.text("nel")


def test_the_reminder_plan_in_spanish_with_hecho_and_check_ins(
    runtime: Runtime, clock: Clock
) -> None:
    clock.now = datetime.combine(START, time(8), LA).astimezone(UTC)
    p = Patient(runtime, clock)
    p.at(0, 9)
    p.text("Hola, me duele la rodilla cuando corro")
    for answer in es_path():
        p.text(answer)
    enrolled = fold(p.text("7 de la tarde"))
    assert "le escribira a las 7:00 pm (hora del Pacifico), lun-sab" in enrolled
    assert "desde hoy" in enrolled and "revision cada domingo" in enrolled
    assert "correr 5 millas" in p.text("correr 5 millas")
    assert "4/10" in p.text("4")
    p.at(0, 19, 30)
    assert p.got("hora de sus ejercicios en casa \\(dia de ejercicio 1 de 18\\)")
    assert fold(p.text("HECHO")).startswith("¡Anotado, buen trabajo! Lleva 1 de 18")
    p.at(1, 19, 30)
    assert fold(p.text("Lo hice!")).startswith("¡Anotado, buen trabajo! Lleva 2 de 18")
    p.at(6, 19, 30)  # Sunday: the weekly check-in replaces the reminder
    assert p.got("revision semanal", since=6)
    assert "Tiene alguno de estos ahora?" in fold(p.text("dos"))
    assert '"correr 5 millas"' in p.text("ninguno")
    assert "Gracias, anotado" in p.text("6")
    assert "Recordatorios en pausa" in p.text("PAUSA")
    assert "Recordatorios activos otra vez" in p.text("REANUDAR")
    assert p.staff == []


def test_a_check_in_red_flag_in_spanish_alerts_staff(runtime: Runtime, clock: Clock) -> None:
    clock.now = datetime.combine(START, time(8), LA).astimezone(UTC)
    p = Patient(runtime, clock)
    p.at(0, 9)
    p.text("Hola, me duele la rodilla cuando corro")
    for answer in [*es_path(), "6pm", "SALTAR"]:
        p.text(answer)
    p.at(6, 18, 30)
    p.text("3")
    said = fold(p.text("2"))
    assert "busque atencion medica hoy" in said and "pausamos sus recordatorios" in said
    assert any("habla espanol" in fold(m) for m in p.staff_alerts("urgent"))


def test_bot_chat_lang_es_answers_in_spanish_from_the_first_reply(
    settings: Settings, tmp_path: Path
) -> None:
    script = tmp_path / "es.txt"
    script.write_text("hi\nsí\n0\nAYUDA\n", encoding="utf-8")
    out = io.StringIO()
    assert run_chat(settings, "+13105550188", str(script), out=out, lang="es") == 0
    said = fold(out.getvalue())
    assert "Asistente automatico" in said and "Cuantos anos tiene" in said and "PARAR" in said
    with pytest.raises(BotError, match="--lang xx"):
        run_chat(settings, "+13105550188", str(script), out=out, lang="xx")


def test_the_web_chat_page_and_replies_in_spanish(app: Any) -> None:
    client = app.test_client()
    page = client.get("/chat?lang=es").get_data(as_text=True)
    assert '<html lang="es">' in page and '<label for="msg" class="sr-only">Mensaje para' in page
    assert 'placeholder="Escriba un mensaje…"' in page and "No es consejo médico" in page
    assert 'data-say-rate-limited="Está enviando mensajes muy rápido' in page
    assert not re.search(r">[^<]*\b(?:the|you|your|Send|Type)\b[^<]*<", page.split("<body>")[1])
    csrf = client.get("/chat/api/history").json["csrf"]
    reply = client.post("/chat/api/message", json={"text": "hi", "id": "m1"},
                        headers={"X-CSRF-Token": csrf}).json["replies"]  # fmt: skip
    assert "Soy el asistente automático" in reply[0] and "¿Empezamos?" in reply[-1]
    again = client.get("/chat").get_data(as_text=True)
    assert '<html lang="es">' in again  # the visitor's language stays
    switched = client.post("/chat/api/message", json={"text": "EN", "id": "m2"},
                           headers={"X-CSRF-Token": csrf}).json  # fmt: skip
    assert switched["lang"] == "en" and "in English from now on" in switched["replies"][0]


def test_the_web_chat_follows_the_browser_and_the_visitor(app: Any) -> None:
    client = app.test_client()
    es = client.get("/chat", headers={"Accept-Language": "es-MX,es;q=0.9"}).get_data(as_text=True)
    assert '<html lang="es">' in es
    en = app.test_client().get("/chat", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="en">' in en and "En español" in en


def test_sms_encoding_folds_accents_to_gsm7_or_keeps_them(config: Config) -> None:
    folded = Renderer(config, ROOT / "templates")
    text = folded.render("q_age", {}, lang="es")
    assert text == "¿Cuantos años tiene?" and is_gsm7(text)  # ñ and ¿ are GSM-7
    kept = dataclasses.replace(
        config, clinic=config.clinic.model_copy(update={"sms_encoding": "unicode"})
    )
    text = Renderer(kept, ROOT / "templates").render("q_age", {}, lang="es")
    assert text == "¿Cuántos años tiene?" and not is_gsm7(text) and segments(text) == 1
    assert Renderer(kept, ROOT / "templates").render("q_age", {}, channel="web", lang="es") == text


def test_a_spanish_web_visitor_is_invited_to_sms_reminders_in_spanish(
    app: Any, runtime: Runtime
) -> None:
    client = app.test_client()
    client.get("/chat?lang=es")
    csrf = client.get("/chat/api/history").json["csrf"]

    def send(text: str, n: list[int] = [0]) -> list[str]:  # noqa: B006 (a counter)
        n[0] += 1
        response = client.post("/chat/api/message", json={"text": text, "id": f"m{n[0]}"},
                               headers={"X-CSRF-Token": csrf})  # fmt: skip
        return list(response.json["replies"])

    for text in ["hola", *es_path()]:
        send(text)
    assert "Le enviamos un mensaje" in " ".join(send("(949) 555-0123 a las 6pm"))
    bodies = [fields["body"] for _, fields in runtime.redis.xrange(keys.OUTBOX)]
    invite = [b for b in bodies if "pidio en nuestra pagina recordatorios" in fold(b)]
    assert invite and "Responda SI para empezarlos" in fold(invite[0])


def test_a_spanish_emergency_in_the_first_message_is_acted_on_at_once(phone: Phone) -> None:
    said = phone.text("hola, me duele mucho el pecho y me falta el aire")
    assert (
        "llame al 911 ahora" in said and "tiene dolor de pecho o dificultad para respirar" in said
    )
    alerts = phone.staff()
    assert alerts and "EMERGENCY alert" in alerts[0] and "habla espanol" in alerts[0]


@pytest.mark.parametrize(
    "text",
    ["no tengo dolor de pecho", "mi papá tuvo un infarto en mayo", "nunca me ha faltado el aire",
     "si algún día no puedo respirar llamo al 911", "hace años tuve un coágulo, ya estoy bien"],
)  # fmt: skip
def test_a_negated_past_hypothetical_or_someone_elses_emergency_never_fires(
    phone: Phone, text: str
) -> None:
    phone.intake(es_path()[:2])  # at the age question
    said = phone.text(text)
    assert "911 ahora" not in said and phone.staff() == []
    assert phone.rt.service.export() == []


def test_a_red_flag_in_spanish_mid_questionnaire_ends_it_safely(phone: Phone) -> None:
    phone.intake(es_path()[:6])
    said = phone.text("ninguno, pero tengo la pantorrilla hinchada y caliente")
    assert "busque atencion medica hoy" in said
    assert phone.rt.service.export()[0]["outcome"] == "urgent"


def test_spanish_intents_call_and_opt_out_in_any_words(phone: Phone) -> None:
    phone.intake(es_path()[:3])
    assert "le llamara a este numero" in phone.text("¿me pueden llamar, por favor?")
    assert any("CALLBACK alert" in m and "habla espanol" in m for m in phone.staff())
    said = phone.text("ya no me manden mensajes")
    assert "no recibira mas mensajes" in said and phone.rt.store.is_opted_out(phone.number)
    assert phone.text("me duele mucho el pecho") == ""  # nothing goes back to an opted-out number
    assert any("EMERGENCY alert" in m for m in phone.staff())  # but staff are told


def test_open_alerts_name_the_language_to_staff(phone: Phone) -> None:
    phone.intake(es_path(red_flags="2"))
    listing = phone.rt.service.handle_inbound("+19495550101", Inbound("OPEN"), phone.clock())
    assert "urgent" in listing.replies[0] and "[es]" in listing.replies[0]


@pytest.mark.parametrize("yes", ["continuar", "adelante", "empezar", "comenzar", "sí", "va"])
def test_consent_words_are_not_taken_for_plan_or_compliance_keywords(
    phone: Phone, yes: str
) -> None:
    phone.text("Hola, me duele la rodilla cuando corro")
    assert "dolor de pecho o dificultad para respirar" in phone.text(yes)


@pytest.mark.parametrize(
    ("reply", "says"),
    [("las 8 de la mañana por favor", "a las 8:00 am"), ("a las seis de la tarde", "a las 6:00 pm"),
     ("mediodía", "a las 12:00 pm"), ("mejor no", "sin recordatorios"),
     ("no gracias", "sin recordatorios")],
)  # fmt: skip
def test_the_reminder_offer_in_spanish_words(phone: Phone, reply: str, says: str) -> None:
    phone.intake(es_path())
    assert says in phone.text(reply)
