"""Storage shared by the domain packages: the SQLite database wrapper, domain errors, and the
one CSV/XLSX table writer of every export (`storage.sheets`).

Imports nothing of the web layer, so `content`, `device_registry` and `callbacks` can use it.
"""

from storage.database import Database, Migration
from storage.errors import Conflict, DomainError, Invalid, LimitReached, NotFound

__all__ = [
    "Conflict",
    "Database",
    "DomainError",
    "Invalid",
    "LimitReached",
    "Migration",
    "NotFound",
]
