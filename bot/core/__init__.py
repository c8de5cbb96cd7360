"""Pure core: no Redis, Twilio, Flask, APScheduler, Jinja2 or clock in here."""
