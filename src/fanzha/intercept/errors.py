"""The errors interception raises for bad input.

They are :class:`~fanzha.errors.InputError` subclasses, so the CLI maps them to exit
code 2 and the API to HTTP 422 without knowing about interception. They are also
``ValueError`` subclasses, so plain Python callers can catch them the usual way.
"""

from __future__ import annotations

from fanzha.errors import InputError


class InvalidUrl(InputError, ValueError):
    """The text cannot be read as a URL (no host, not text, …)."""


class UrlTooLong(InvalidUrl):
    """The URL, or its canonical form, is longer than :data:`fanzha.intercept.urls.MAX_URL_BYTES`."""


class InvalidPhone(InputError, ValueError):
    """The text is not a dialable phone number (per the phonenumbers metadata)."""
