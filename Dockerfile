FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BOT_ENV=production \
    BOT_CONFIG_DIR=/app/config BOT_TEMPLATE_DIR=/app/templates BOT_SPOOL_DIR=/app/spool
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
# Defaults baked in; docker-compose.yml mounts the clinic's own config/ and templates/ over them.
COPY config ./config
COPY templates ./templates
# The spool holds message bodies while Redis is down: only the bot user may read it.
RUN pip install --no-cache-dir . && useradd --create-home bot \
    && mkdir -p /app/spool && chown bot /app/spool && chmod 0700 /app/spool
USER bot
EXPOSE 8000
# gthread: a slow client waits in the poller, not in a busy worker; --timeout restarts a stuck one.
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", \
     "--threads", "32", "--timeout", "30", "--graceful-timeout", "30", "--keep-alive", "5", "--config", "python:bot.gunicorn_conf", \
     "bot.wsgi:app"]
