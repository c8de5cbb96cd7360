"""The one error tree of the bot."""


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(BotError):
    """Configuration or template is invalid; the message names file, key and fix."""


class AnswerError(BotError):
    """A reply could not be parsed; the message says what is expected."""


class StoreUnavailable(BotError):
    """The store (Redis) cannot be reached."""


class PartialAnswer(AnswerError):
    """Part of an answer was given (one side of two): keep `partial` and ask for the rest."""

    def __init__(self, reason: str, partial: dict[str, float]) -> None:
        super().__init__(reason)
        self.partial = partial
