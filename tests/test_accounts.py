"""Accounts: password hashing, roles, lock-out, region scope, the audit log."""

import pytest

from accounts import audit, users
from accounts.passwords import hash_password, verify_password
from storage import Conflict, Database, Invalid
from tv_server.migrations import MIGRATIONS


@pytest.fixture
async def db(tmp_path):
    database = Database(tmp_path / "t.sqlite3")
    await database.open()
    await database.migrate(MIGRATIONS)
    yield database
    await database.close()


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("correct horse 1"), hash_password("correct horse 1")
    assert first.startswith("scrypt$") and first != second
    assert verify_password("correct horse 1", first)
    assert not verify_password("correct horse 2", first)
    assert not verify_password("x", "not-a-hash")


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("ab", "long enough pw", "username_invalid"),
        ("zhang san", "long enough pw", "username_invalid"),
        ("zhangsan", "short", "password_too_short"),
        ("zhangsan", "zhangsan-2026!", "password_contains_username"),
        ("zhangsan", "aaaaaaaaaaaa", "password_too_simple"),
    ],
)
async def test_weak_or_malformed_accounts_are_refused(db, username, password, code):
    with pytest.raises(Invalid) as caught:
        await users.create_user(db, username, password, "editor")
    assert caught.value.code == code
    assert await db.fetchval("SELECT COUNT(*) FROM users") == 0


async def test_duplicate_usernames_conflict_case_insensitively(db):
    await users.create_user(db, "Zhang", "a good passphrase", "editor")
    with pytest.raises(Conflict):
        await users.create_user(db, "zhang", "a good passphrase", "viewer")


async def test_five_failures_lock_the_account_for_fifteen_minutes(db):
    await users.create_user(db, "wang", "a good passphrase", "editor")
    for _ in range(4):
        with pytest.raises(users.LoginFailed) as caught:
            await users.authenticate(db, "wang", "wrong", now=1000.0)
        assert caught.value.code == "login_failed"
    with pytest.raises(users.LoginFailed) as caught:
        await users.authenticate(db, "wang", "wrong", now=1000.0)
    assert caught.value.code == "login_locked"
    # Even the right password is refused while locked...
    with pytest.raises(users.LoginFailed) as caught:
        await users.authenticate(db, "wang", "a good passphrase", now=1000.0 + 14 * 60)
    assert caught.value.code == "login_locked"
    # ...and accepted after the lock-out.
    user = await users.authenticate(db, "wang", "a good passphrase", now=1000.0 + 16 * 60)
    assert user.username == "wang"


async def test_disabled_accounts_cannot_log_in(db):
    user = await users.create_user(db, "liwei", "a good passphrase", "staff")
    await users.set_disabled(db, user.id, True)
    with pytest.raises(users.LoginFailed):
        await users.authenticate(db, "liwei", "a good passphrase")


async def test_password_change_ends_sessions(db):
    user = await users.create_user(db, "zhao", "a good passphrase", "staff")
    await users.set_password(db, user.id, "another passphrase")
    assert (await users.get_user(db, user.id)).session_epoch == user.session_epoch + 1


def test_roles_and_scope():
    editor = users.User(1, "e", "e", "editor", "150602", False, 1)
    viewer = users.User(2, "v", "v", "viewer", None, False, 1)
    assert editor.can("program.edit") and not editor.can("program.publish")
    assert not viewer.can("program.publish") and viewer.can("view")
    assert users.in_scope(editor, ["150602001001", "150602001", "150602", "1506"])
    assert not users.in_scope(editor, ["150621100", "150621", "1506"])
    assert users.in_scope(viewer, ["150621"])


async def test_admins_cannot_be_scoped(db):
    with pytest.raises(Invalid) as caught:
        await users.create_user(db, "root2", "a good passphrase", "admin", region_code="150602")
    assert caught.value.code == "admin_not_scoped"


async def test_audit_search_filters(db):
    user = await users.create_user(db, "auditor", "a good passphrase", "admin")
    await audit.record(
        db, user=user, action="program.publish", object_type="program", object_id=7, ip="10.0.0.1"
    )
    await audit.record(db, user=user, action="program.edit", object_type="program", object_id=8)
    await audit.record(db, user=None, action="login", outcome="failed", detail={"username": "x"})
    entries, total = await audit.search(db, action="program.*")
    assert total == 2 and {e.object_id for e in entries} == {"7", "8"}
    entries, total = await audit.search(db, outcome="failed")
    assert total == 1 and entries[0].detail == {"username": "x"}
