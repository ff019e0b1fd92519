"""Exceptions raised by the course helpers, and the one check of a count that every module shares.

Used by: helpers (which re-exports ``ParameterError``), helpers.audio, helpers.spectral, helpers.data and every
other module that checks its input
"""

from __future__ import annotations

import numbers


class ParameterError(ValueError):
    """Raised when an argument or an input file is invalid.

    The message names the bad value (a parameter and its value, or a file path) and the problem, in the
    style of ``librosa.util.exceptions.ParameterError``. It is a ``ValueError``, so generic handlers catch it.

    Used by: helpers.audio, helpers.spectral, helpers.masks, helpers.data, helpers.separation and every other module
    that checks its input
    """


def check_int(name: str, value, *, minimum: int = 1) -> int:
    """Check that ``value`` is an integer (not a bool) of at least ``minimum`` and return it as an ``int``.

    Used by: helpers.audio, helpers.spectral, helpers.segments, helpers.data, helpers.songs.dataset and the other modules that
    check a count

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : object
    minimum : int
        1 for a positive count, 0 for a non-negative one.

    Returns
    -------
    value : int

    Raises
    ------
    ParameterError
        ``"hop_length=0 must be a positive integer"`` (or ``an integer >= minimum``).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ParameterError(f"{name}={value!r} must be {what}")
    return int(value)
