"""The benchmark's floor: an empty-TwiML Flask endpoint under the same gunicorn settings."""

from flask import Flask, Response

EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response />'
app = Flask(__name__)


@app.post("/twilio/sms")
def sms() -> Response:
    return Response(EMPTY, mimetype="application/xml")
