"""Identifying a box: the operator portal's signed launch URL, then a signed page token.

Launch: `sig` = hex HMAC-SHA256(launch_secret, "SERIAL|ts"), valid within ±launch_max_skew; with
the household's TV language (`lang=mn|zh`) the signed message is "SERIAL|ts|lang", so the language
cannot be changed on a signed URL, and URLs without it keep their original form.
Token: carried in every TV page URL (`/tv/b/TOKEN/...`) so the box stays identified without
cookies or localStorage; it names the serial and the issue time, signed with a key derived from
the launch secret. A box whose TV sessions staff revoked has a higher token generation
(`devices.token_generation`): its tokens then carry it as a fourth part
(`SERIAL.ISSUED.GENERATION.MAC`), and tokens of an older generation are refused. Generation 0
keeps the original three-part form, so tokens issued before generations existed stay valid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from storage.changes import BoundedCache


class BoxAuthError(Exception):
    """`code` is one of: launch_missing, launch_bad_signature, launch_stale, token_invalid,
    token_expired."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(code)


def launch_signature(secret: str, serial: str, ts: int | str, lang: str = "") -> str:
    message = f"{serial}|{ts}|{lang}" if lang else f"{serial}|{ts}"
    return hmac.digest(secret.encode(), message.encode(), "sha256").hex()  # one-shot: C only


def verify_launch(
    secret: str,
    serial: str,
    ts: str,
    sig: str,
    *,
    max_skew: int,
    now: float | None = None,
    lang: str = "",
) -> None:
    if not serial or not ts or not sig:
        raise BoxAuthError("launch_missing")
    if len(serial) > 64 or not ts.isdigit() or len(ts) > 12 or len(lang) > 8:
        raise BoxAuthError("launch_bad_signature")
    expected = launch_signature(secret, serial, ts, lang)
    if not hmac.compare_digest(expected, sig.lower()):
        raise BoxAuthError("launch_bad_signature")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > max_skew:
        raise BoxAuthError("launch_stale")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    CACHE_SIZE = 200_000

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"legaltv box token v1", hashlib.sha256).digest()
        # Tokens already verified: token -> (serial, issued, generation). A box sends the same
        # token with every screen, so the HMAC is checked once, not on every request.
        # A verdict never goes stale (expiry and revocation are checked on every read).
        self._verified = BoundedCache("tv_box_tokens", self.CACHE_SIZE)

    @property
    def verified_tokens(self) -> BoundedCache:
        return self._verified

    def _mac(self, payload: str) -> str:
        return _b64(hmac.digest(self._key, payload.encode(), "sha256")[:16])

    def issue(self, serial: str, now: float | None = None, generation: int = 0) -> str:
        issued = int(time.time() if now is None else now)
        payload = f"{_b64(serial.encode())}.{issued:x}"
        if generation:
            payload += f".{generation:x}"
        token = f"{payload}.{self._mac(payload)}"
        # Known good (signed here): the box's next request, its home, reads it with no HMAC.
        self._verified.put(token, (serial, issued, generation))
        return token

    def read(self, token: str, *, ttl: int, now: float | None = None) -> str:
        """Return the serial the token names, or raise BoxAuthError."""
        known = self._verified.get(token)  # the one look-up counted (hit or miss)
        serial, issued, _generation = known if known is not None else self._verify(token)
        now = time.time() if now is None else now
        if now - issued > ttl or issued - now > 300:
            raise BoxAuthError("token_expired")
        return serial

    def signed_serial(self, token: str) -> str | None:
        """The serial a token names when its signature holds, expired or not (None for a
        forged or malformed token): an expired page can still speak the box's language."""
        try:
            return (self._verified.get(token) or self._verify(token))[0]
        except BoxAuthError:
            return None

    def issued(self, token: str) -> float:
        """When a token already read was issued (seconds since the epoch)."""
        known = self._verified.peek(token)
        return float(known[1]) if known is not None else 0.0

    def generation(self, token: str) -> int:
        """The token generation a token already read carries (0 for three-part tokens)."""
        known = self._verified.peek(token)
        return known[2] if known is not None else 0

    def _verify(self, token: str) -> tuple[str, int, int]:
        parts = token.split(".")
        if len(parts) not in (3, 4) or len(token) > 200:
            raise BoxAuthError("token_invalid")
        payload = ".".join(parts[:-1])
        if not hmac.compare_digest(self._mac(payload), parts[-1]):
            raise BoxAuthError("token_invalid")
        try:
            serial = _unb64(parts[0]).decode("utf-8")
            issued = int(parts[1], 16)
            generation = int(parts[2], 16) if len(parts) == 4 else 0
        except ValueError:
            raise BoxAuthError("token_invalid") from None
        self._verified.put(token, (serial, issued, generation))
        return serial, issued, generation
