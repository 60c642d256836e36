"""Security headers, in one place: the middleware adds them to every response; TV screens carry
them from the start (prebuilt, so the hot path does not add them one by one)."""

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
CSP_ADMIN = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " media-src 'self'; frame-src 'self'; frame-ancestors 'none'; form-action 'self';"
    " base-uri 'none'; object-src 'none'"
)
CSP_TV = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " media-src 'self'; frame-ancestors 'none'; form-action 'self'"
)
# Everything a TV screen response carries besides its ETag and encoding.
TV_SCREEN = {
    **COMMON,
    "Content-Security-Policy": CSP_TV,
    "Cache-Control": "private, no-cache",
    "Vary": "Accept-Encoding",
    "Content-Type": "text/html; charset=utf-8",
}
