"""The one error tree of the bot."""


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(BotError):
    """Configuration or template is invalid; the message names file, key and fix."""


class AnswerError(BotError):
    """A reply could not be parsed; the message says what is expected."""


class StoreUnavailable(BotError):
    """The store (Redis) cannot be reached."""
