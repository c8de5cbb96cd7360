"""create_app: the Flask app (Twilio webhooks, health, web chat)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from werkzeug.middleware.proxy_fix import ProxyFix

from bot import spool, twilio_webhook, web_chat
from bot.runtime import Runtime, build
from bot.settings import Settings

TEMPLATES = ("store_down",)  # the apology while Redis is unreachable


class ChatSessions(SecureCookieSessionInterface):
    """Only the web chat keeps a session cookie; Twilio's callbacks skip decoding one."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/twilio/"):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Flask sets Expires only; Max-Age too (the transcript's life) for clients that
        prefer it or whose clock is wrong."""
        super().save_session(app, session, response)
        name = f"{self.get_cookie_name(app)}="
        max_age = int(app.permanent_session_lifetime.total_seconds())
        cookies = response.headers.getlist("Set-Cookie")
        if not any(c.startswith(name) for c in cookies) or not session.permanent:
            return
        response.headers.remove("Set-Cookie")
        for cookie in cookies:
            mine = cookie.startswith(name) and "Max-Age=" not in cookie
            response.headers.add("Set-Cookie", f"{cookie}; Max-Age={max_age}" if mine else cookie)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
               **parts: Any) -> Flask:  # fmt: skip
    """The app; tests pass their own `runtime` or parts (client=, clock=, config=)."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    rt = runtime or build(settings, **parts)
    rt.config.warm()  # the NLP loads here, not on the first message someone sends
    app = Flask(__name__, template_folder=str(settings.template_dir / "web"))
    app.config.update(SECRET_KEY=settings.secret_key, DEBUG=False, PROPAGATE_EXCEPTIONS=False,
                      MAX_CONTENT_LENGTH=64 * 1024)  # fmt: skip
    app.session_interface = ChatSessions()
    app.extensions["bot"] = rt

    def on_status(sid: str, status: str, code: int | None, to: str) -> None:
        rt.service.delivery_status(sid, status, code, to, rt.clock())

    inbox = spooling_handler(rt, settings)
    app.extensions["bot.spool"] = inbox
    hooks = twilio_webhook.blueprint(inbox, on_status, settings, rt.clock, rt.service.staff_numbers)
    app.register_blueprint(hooks)
    app.register_blueprint(web_chat.blueprint(rt))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        ok = rt.store.ping()
        depth = inbox.spool.depth()
        body = jsonify(status="ready" if ok else "store unreachable", store=ok, spool=depth)
        return body, 200 if ok else 503

    if settings.trusted_proxies:
        # Behind a TLS proxy: the client's address (per-IP limits) and scheme come from it.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def spooling_handler(rt: Runtime, settings: Settings) -> spool.SpoolingHandler:
    """Inbound SMS survive a Redis outage on disk; a restart replays what an outage left."""
    disk = spool.Spool(settings.spool_dir)
    disk.expire_failed()
    replayer = spool.Replayer(disk, rt.service.handle_inbound, rt.redis)
    if disk.pending():
        replayer.start()
    return spool.SpoolingHandler(rt.service.handle_inbound, disk, replayer,
                                 lambda: rt.renderer.reply_named("store_down"))  # fmt: skip
