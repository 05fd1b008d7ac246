"""One exception type for every problem a user can fix: the CLI prints its message, never a traceback."""


class LandmarkGANError(Exception):
    """A problem with the user's input or set-up; the message says what is wrong and what to do."""


class TrainingStopped(LandmarkGANError):
    """Training was stopped (Ctrl-C or SIGTERM) before its budget; its checkpoint is saved and the message says
    how to continue. The CLI exits with 130, as for any interrupted command."""


def quoted(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that user input echoed in a message stays short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
