"""Password hashing with scrypt (hashlib), in a self-describing string:
`scrypt$N$r$p$salt_b64$hash_b64`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor

N, R, P = 2**14, 8, 1
MIN_LENGTH = 10
# scrypt takes ~50 ms of CPU and 16 MB: it runs in these threads (hashlib releases the GIL), so a
# login never stalls the event loop serving the TVs, and at most two run at once.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scrypt")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


async def hash_password_async(password: str) -> str:
    """`hash_password` in a hashing thread."""
    return await asyncio.get_running_loop().run_in_executor(_HASHING, hash_password, password)


async def verify_password_async(password: str, stored: str) -> bool:
    """`verify_password` in a hashing thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, verify_password, password, stored)


def password_problem(password: str, username: str = "") -> str | None:
    """A reason the password is too weak, or None."""
    if len(password) < MIN_LENGTH:
        return "password_too_short"
    if username and username.lower() in password.lower():
        return "password_contains_username"
    if len(set(password)) < 4:
        return "password_too_simple"
    return None


# A valid hash of nothing anyone can type, to spend the same time on unknown usernames.
DUMMY_HASH = hash_password(secrets.token_hex(16))
