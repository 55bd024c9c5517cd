"""Reading data into the library's long format (one row per patient and occasion).

:func:`from_wide` turns a wide table (one row per patient, one column per session) into long
format.
"""

from __future__ import annotations

from .wide import from_wide

__all__ = ["from_wide"]
