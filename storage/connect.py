"""Which database a URL names: SQLite (the embedded default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from storage.database import Database


def is_postgres(url: str) -> bool:
    """Whether `url` names a PostgreSQL database (else SQLite: the data dir's file or another)."""
    return url.strip().startswith(("postgresql://", "postgres://"))


def database_for(url: str, default_path: Path, *, readers: int = 2, synchronous: str = "FULL"):
    """The database of `url`, not yet opened.

    `""` or `sqlite://` (nothing after it): the SQLite file `default_path` (the data dir's).
    `sqlite:///relative/file` or `sqlite:////absolute/file`: that SQLite file.
    `postgresql://…` (or `postgres://…`): a PostgreSQL database, libpq's URL syntax.
    """
    url = url.strip()
    if url in ("", "sqlite:", "sqlite://", "sqlite:///"):
        return Database(default_path, readers=readers, synchronous=synchronous)
    if url.startswith("sqlite:///"):
        return Database(Path(url[len("sqlite:///") :]), readers=readers, synchronous=synchronous)
    if is_postgres(url):
        from storage.pg import PgDatabase  # asyncpg only when PostgreSQL is used

        return PgDatabase(url, readers=readers)
    raise ValueError(
        f"database URL must start with sqlite:/// or postgresql://, not {url.split(':')[0]!r}"
    )


def describe(url: str) -> str:
    """The URL without its password, for logs and status lines."""
    if "://" not in url or "@" not in url.split("://", 1)[1].split("/", 1)[0]:
        return url or "sqlite (the data dir's file)"
    scheme, rest = url.split("://", 1)
    credentials, host = rest.split("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
