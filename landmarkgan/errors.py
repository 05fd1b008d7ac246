"""One exception type for every problem a user can fix: the CLI prints its message, never a traceback."""


class LandmarkGANError(Exception):
    """A problem with the user's input or set-up; the message says what is wrong and what to do."""
