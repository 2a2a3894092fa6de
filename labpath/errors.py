"""The one exception family labpath raises, with its exit codes."""

from __future__ import annotations

# Exit codes, documented in the README.
OK = 0
CHECKS_FAILED = 1
USER_ERROR = 2
ENV_ERROR = 3
PIPE_CLOSED = 141  # the reader of stdout closed the pipe (128 + SIGPIPE, as git exits)


class LabpathError(Exception):
    """An error the user sees as one line, an optional hint and an exit code."""

    exit_code = USER_ERROR

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(LabpathError):
    """Something the user can fix: bad arguments, bad curriculum, no current task."""

    exit_code = USER_ERROR


class EnvironmentFailure(LabpathError):
    """The environment or labpath itself failed: git unusable, checks crashed."""

    exit_code = ENV_ERROR


def did_you_mean(word: str, choices) -> str | None:
    """Return a 'did you mean' phrase for the closest choice, if any is close."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f"did you mean '{close[0]}'?" if close else None
