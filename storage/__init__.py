"""Storage shared by the domain packages: the SQLite database wrapper and domain errors.

Imports nothing of the web layer, so `content`, `device_registry` and `callbacks` can use it.
"""

from storage.database import Database, Migration
from storage.errors import Conflict, DomainError, Invalid, LimitReached, NotFound, OutOfScope

__all__ = [
    "Conflict",
    "Database",
    "DomainError",
    "Invalid",
    "LimitReached",
    "Migration",
    "NotFound",
    "OutOfScope",
]
