"""Staff users: roles and what each may do, region scoping, authentication with lock-out."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from accounts import audit
from accounts.passwords import (
    DUMMY_HASH,
    hash_password_async,
    password_problem,
    verify_password_async,
)
from storage import Conflict, Database, Invalid, NotFound

ROLES = ("admin", "editor", "reviewer", "staff", "viewer")

# What each role may do. "view" is reading the admin at all.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "view",
            "program.edit",
            "program.review",
            "program.publish",
            "directory.edit",
            "announcement.edit",
            "users.manage",
            "audit.view",
            "registry.edit",
            "callbacks.work",
            "laws.edit",
            "advisers.edit",
        }
    ),
    "editor": frozenset({"view", "program.edit", "directory.edit", "announcement.edit"}),
    "reviewer": frozenset({"view", "program.review", "program.publish"}),
    "staff": frozenset(
        {"view", "registry.edit", "callbacks.work", "announcement.edit", "advisers.edit"}
    ),
    "viewer": frozenset({"view"}),
}
SCOPABLE_ROLES = ("editor", "staff", "reviewer", "viewer")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
MAX_FAILED_LOGINS = 5
# users.demo: a demo account (published password), and one disabled because demo mode was off.
DEMO_ACTIVE = 1
DEMO_PARKED = 2
LOCKOUT_SECONDS = 15 * 60


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    region_code: str | None
    disabled: bool
    session_epoch: int
    locked_until: float | None = None
    last_login_at: float | None = None

    def can(self, permission: str) -> bool:
        return not self.disabled and permission in PERMISSIONS.get(self.role, frozenset())


_COLUMNS = (
    "id, username, display_name, role, region_code, disabled, session_epoch, locked_until,"
    " last_login_at"
)


def _user(row) -> User:
    return User(
        row["id"],
        row["username"],
        row["display_name"],
        row["role"],
        row["region_code"],
        bool(row["disabled"]),
        row["session_epoch"],
        row["locked_until"],
        row["last_login_at"],
    )


def _check(username: str, role: str, password: str | None) -> None:
    if not USERNAME_RE.match(username):
        raise Invalid("username_invalid", username)
    if role not in ROLES:
        raise Invalid("role_invalid", role)
    if password is not None:
        problem = password_problem(password, username)
        if problem:
            raise Invalid(problem, "")


async def create_user(
    db: Database,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    region_code: str | None = None,
    demo: bool = False,
) -> User:
    """Create an account; `demo` marks one of the demo's accounts (published password)."""
    _check(username, role, password)
    if role == "admin" and region_code:
        raise Invalid("admin_not_scoped", "an admin sees every region")
    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM users WHERE username = ?", (username,)):
            raise Conflict("username_taken", username)
        user_id = await tx.insert(
            "INSERT INTO users (username, display_name, password_hash, role, region_code,"
            " created_at, demo) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                username,
                display_name or username,
                await hash_password_async(password),
                role,
                region_code or None,
                time.time(),
                DEMO_ACTIVE if demo else 0,
            ),
        )
    return await get_user(db, user_id)


async def get_user(db: Database, user_id: int) -> User:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise NotFound("user_not_found", str(user_id))
    return _user(row)


async def find_user(db: Database, username: str) -> User:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM users WHERE username = ?", (username,))
    if row is None:
        raise NotFound("user_not_found", username)
    return _user(row)


async def list_users(db: Database) -> list[User]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM users ORDER BY disabled, role, username")
    return [_user(r) for r in rows]


async def update_user(
    db: Database,
    user_id: int,
    *,
    role: str,
    region_code: str | None,
    display_name: str,
) -> User:
    if role not in ROLES:
        raise Invalid("role_invalid", role)
    if role == "admin" and region_code:
        raise Invalid("admin_not_scoped", "an admin sees every region")
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE users SET role = ?, region_code = ?, display_name = ?,"
            " session_epoch = session_epoch + 1 WHERE id = ?",
            (role, region_code or None, display_name, user_id),
        )
        if cur.rowcount == 0:
            raise NotFound("user_not_found", str(user_id))
    return await get_user(db, user_id)


async def set_password(db: Database, user_id: int, password: str) -> None:
    user = await get_user(db, user_id)
    problem = password_problem(password, user.username)
    if problem:
        raise Invalid(problem, "")
    password_hash = await hash_password_async(password)
    async with db.transaction() as tx:
        # A new password ends every session of the account and lifts a lock-out. The account
        # no longer has the demo's published password, so it stops being a demo account (one
        # disabled because demo mode was off comes back as a person's account).
        await tx.execute(
            "UPDATE users SET password_hash = ?, session_epoch = session_epoch + 1,"
            " failed_logins = 0, locked_until = NULL,"
            " disabled = CASE WHEN demo = ? THEN 0 ELSE disabled END, demo = 0 WHERE id = ?",
            (password_hash, DEMO_PARKED, user_id),
        )


async def set_disabled(db: Database, user_id: int, disabled: bool) -> None:
    async with db.transaction() as tx:
        cur = await tx.execute(
            "UPDATE users SET disabled = ?, session_epoch = session_epoch + 1 WHERE id = ?",
            (int(disabled), user_id),
        )
        if cur.rowcount == 0:
            raise NotFound("user_not_found", str(user_id))


async def park_demo_accounts(db: Database) -> list[str]:
    """Disable every enabled demo account (they have the published password); return their
    names. Run at a start without demo mode."""
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "SELECT id, username FROM users WHERE demo IN (?, ?) AND disabled = 0",
            (DEMO_ACTIVE, DEMO_PARKED),
        )
        for row in rows:
            await tx.execute(
                "UPDATE users SET disabled = 1, demo = ?, session_epoch = session_epoch + 1"
                " WHERE id = ?",
                (DEMO_PARKED, row["id"]),
            )
            await audit.record(
                tx,
                user=None,
                action="user.disable",
                object_type="user",
                object_id=row["id"],
                detail={"username": row["username"], "via": "demo mode off"},
            )
    return [row["username"] for row in rows]


async def unpark_demo_accounts(db: Database) -> list[str]:
    """Enable again the demo accounts disabled by a start without demo mode (not those a
    person disabled); return their names. Run at a start in demo mode."""
    async with db.transaction() as tx:
        rows = await tx.fetchall(
            "SELECT id, username FROM users WHERE demo = ? AND disabled = 1", (DEMO_PARKED,)
        )
        for row in rows:
            await tx.execute(
                "UPDATE users SET disabled = 0, demo = ?, failed_logins = 0,"
                " locked_until = NULL WHERE id = ?",
                (DEMO_ACTIVE, row["id"]),
            )
            await audit.record(
                tx,
                user=None,
                action="user.enable",
                object_type="user",
                object_id=row["id"],
                detail={"username": row["username"], "via": "demo mode on"},
            )
    return [row["username"] for row in rows]


class LoginFailed(Invalid):
    """`code` is login_failed (unknown name, wrong password, disabled account) or login_locked;
    `locked_now` when this attempt locked the account. Callers show one message for every code,
    so a refusal never tells whether the name exists."""

    locked_now = False


async def authenticate(
    db: Database, username: str, password: str, now: float | None = None
) -> User:
    """Check a login. Failed attempts count per account, atomically (concurrent attempts cannot
    lose a count); five lock it for 15 minutes. Every attempt spends one scrypt, in a thread:
    an unknown name, a locked or a disabled account take as long as a wrong password."""
    now = time.time() if now is None else now
    row = await db.fetchone(
        f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?", (username,)
    )
    if row is None:
        await verify_password_async(password, DUMMY_HASH)  # same time as a real check
        raise LoginFailed("login_failed", username)
    if row["locked_until"] and row["locked_until"] > now:
        await verify_password_async(password, DUMMY_HASH)
        raise LoginFailed("login_locked", username)
    matches = await verify_password_async(password, row["password_hash"])
    async with db.transaction() as tx:
        if matches and not row["disabled"]:
            # Only while not locked: a lock-out set by a concurrent attempt wins.
            done = await tx.fetchone(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?"
                " WHERE id = ? AND disabled = 0 AND (locked_until IS NULL OR locked_until <= ?)"
                " RETURNING id",
                (now, row["id"], now),
            )
            if done is not None:
                return _user(row)
            raise LoginFailed("login_locked", username)
        counted = await tx.fetchone(
            "UPDATE users SET"
            " locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END,"
            " failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 ELSE failed_logins + 1 END"
            " WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)"
            " RETURNING locked_until",
            (MAX_FAILED_LOGINS, now + LOCKOUT_SECONDS, MAX_FAILED_LOGINS, row["id"], now),
        )
    if counted is None:  # locked meanwhile by a concurrent attempt
        raise LoginFailed("login_locked", username)
    if counted["locked_until"] is not None and counted["locked_until"] > now:
        failed = LoginFailed("login_locked", username)
        failed.locked_now = True
        raise failed
    raise LoginFailed("login_failed", username)


# Server-side admin sessions: the cookie names a random session id, kept here (hashed) while the
# session lasts. Logging out deletes it, so a copied cookie stops working.
SESSION_MAX_AGE = 7 * 24 * 3600


def _session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start_session(db: Database, user_id: int, session_id: str, now: float | None = None):
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        await tx.execute(
            "DELETE FROM admin_sessions WHERE created_at < ?", (now - SESSION_MAX_AGE,)
        )
        await tx.execute(
            "INSERT INTO admin_sessions (id, user_id, created_at) VALUES (?, ?, ?)",
            (_session_key(session_id), user_id, now),
        )


async def session_user(db: Database, user_id: int, session_id: str) -> User | None:
    """The user of a live session, or None when it ended (logged out) or never existed."""
    if not session_id:
        return None
    row = await db.fetchone(
        f"SELECT {', '.join(f'u.{c.strip()} AS {c.strip()}' for c in _COLUMNS.split(','))}"
        " FROM admin_sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.id = ? AND s.user_id = ?",
        (_session_key(session_id), user_id),
    )
    return None if row is None else _user(row)


async def end_session(db: Database, session_id: str) -> None:
    if session_id:
        await db.execute("DELETE FROM admin_sessions WHERE id = ?", (_session_key(session_id),))


async def end_all_sessions(db: Database, user_id: int) -> None:
    """Log the account out everywhere: every session of it ends, now and on every device."""
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM admin_sessions WHERE user_id = ?", (user_id,))
        await tx.execute(
            "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?", (user_id,)
        )


def in_scope(user: User, region_chain: list[str] | tuple[str, ...]) -> bool:
    """May this user act on an object in a region with this chain (region first, then its
    ancestors)? Unscoped users see everything."""
    return user.region_code is None or user.region_code in region_chain
