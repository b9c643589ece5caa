"""The project's exception for bad input data (files, folders, catalogues, inventories)."""

from __future__ import annotations


class DataError(ValueError):
    """Input data that cannot be used as given; the message names the file or parameter and the problem."""


class MissingModelError(DataError, FileNotFoundError):
    """A ``.keras`` file that does not exist: a DataError that is also a FileNotFoundError."""
