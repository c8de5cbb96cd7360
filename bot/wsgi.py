"""The WSGI entry point for gunicorn: `gunicorn bot.wsgi:app`."""

from bot.privacy import configure_logging
from bot.web import create_app

configure_logging()
app = create_app()
