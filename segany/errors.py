"""The exceptions segany raises for user mistakes, shared by both predictors, the CLI and the server.

Catch `SeganyError` for all of them. Each also derives from the builtin a caller would expect (ValueError for a
bad value, TypeError for a value of the wrong type), so code written against the builtins keeps working.
"""

from __future__ import annotations


class SeganyError(Exception):
    """Base class of segany's own exceptions."""


class ImageNotSetError(SeganyError, RuntimeError, ValueError):
    """A prompt was given before an image (or embedding) was set."""


class CheckpointError(SeganyError, ValueError):
    """A checkpoint file does not hold what a SAM checkpoint holds (a dict of tensors with the model's keys)."""


class PromptError(SeganyError, ValueError):
    """A prompt argument has the wrong shape or value; `argument` names it (e.g. "point_coords")."""

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        self.argument = argument

    def __reduce__(self) -> tuple[type[PromptError], tuple[str, str]]:
        # Exceptions pickle through their args (the message only): keep `argument` across processes.
        return type(self), (str(self), self.argument)


class PromptTypeError(PromptError, TypeError):
    """A prompt argument is not of a usable type (text instead of numbers, a ragged list, a non-bool flag)."""


__all__ = ["CheckpointError", "ImageNotSetError", "PromptError", "PromptTypeError", "SeganyError"]
