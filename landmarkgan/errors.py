"""One exception type for every problem a user can fix: the CLI prints its message, never a traceback."""


class LandmarkGANError(Exception):
    """A problem with the user's input or set-up; the message says what is wrong and what to do."""


def quoted(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that user input echoed in a message stays short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
