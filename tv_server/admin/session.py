"""Admin sessions: a signed, expiring cookie naming the user, the server-side session id (kept in
the database while the session lasts, so logging out ends it even for a copied cookie), the
account's session epoch (so a password change, a disabled account or "log out everywhere" ends
every session) and the CSRF token of every form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

from tv_server.ratelimit import SharedLimit

COOKIE = "ltv_admin"


@dataclass
class Session:
    user_id: int | None = None
    epoch: int = 0
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    issued: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.time)
    sid: str = ""  # the server-side session id of a logged-in session

    def payload(self) -> dict:
        return {
            "u": self.user_id,
            "e": self.epoch,
            "c": self.csrf,
            "i": int(self.issued),
            "s": int(self.seen),
            "k": self.sid,
        }


class SessionSigner:
    def __init__(self, secret: str, ttl: int) -> None:
        self._key = hmac.new(secret.encode(), b"legaltv admin session v1", hashlib.sha256).digest()
        self.ttl = ttl

    def dumps(self, session: Session) -> str:
        body = (
            base64.urlsafe_b64encode(json.dumps(session.payload(), separators=(",", ":")).encode())
            .rstrip(b"=")
            .decode()
        )
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:40]
        return f"{body}.{mac}"

    def loads(self, value: str | None, now: float | None = None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged or expired."""
        if not value or len(value) > 1024 or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:40]
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(
                data["u"],
                int(data["e"]),
                str(data["c"]),
                float(data["i"]),
                float(data["s"]),
                str(data.get("k", "")),
            )
        except (ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        if now - session.seen > self.ttl or now - session.issued > 7 * 24 * 3600:
            return None
        return session


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, str(token))


class LoginLimiter(SharedLimit):
    """Login attempts per client address in a sliding window of ten minutes, on every node
    together (in memory, and in PostgreSQL when that is the database)."""

    WINDOW = 600.0

    def __init__(self, limit: int) -> None:
        super().__init__("login", limit, self.WINDOW)
