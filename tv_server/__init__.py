"""LegalTV web server: the aiohttp application, its routes, middlewares and the `legaltv` CLI.

The only package that imports aiohttp.
"""

__version__ = "0.1.0"
