FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BOT_ENV=production \
    BOT_CONFIG_DIR=/app/config BOT_TEMPLATE_DIR=/app/templates BOT_SPOOL_DIR=/app/spool
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY config ./config
COPY templates ./templates
RUN pip install --no-cache-dir . && useradd --create-home bot && mkdir -p /app/spool && chown bot /app/spool
USER bot
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "1", "bot.wsgi:app"]
