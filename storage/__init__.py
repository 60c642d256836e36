"""Storage shared by the domain packages: the SQLite database wrapper, domain errors, and the
one CSV/XLSX table writer of every export (`storage.sheets`).

Imports nothing of the web layer, so `content`, `device_registry` and `callbacks` can use it.
"""

from storage.connect import database_for
from storage.database import Database, Migration, MigrationError
from storage.errors import Conflict, DomainError, Invalid, LimitReached, NotFound, OutOfScope

__all__ = [
    "database_for",
    "Conflict",
    "Database",
    "DomainError",
    "Invalid",
    "LimitReached",
    "Migration",
    "MigrationError",
    "NotFound",
    "OutOfScope",
]
