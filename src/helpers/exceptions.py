"""Exceptions raised by the course helpers."""


class ParameterError(ValueError):
    """Raised when an argument or an input file is invalid.

    The message names the bad value (a parameter and its value, or a file path) and the problem, in the
    style of ``librosa.util.exceptions.ParameterError``. It is a ``ValueError``, so generic handlers catch it.

    Taught in: notebooks/00_setup_check.ipynb
    """
