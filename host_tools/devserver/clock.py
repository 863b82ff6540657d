"""The dev server's one clock: certificate dates, Date and Retry-After headers.

``following(source)`` makes the server date everything on ``source()`` (seconds
since 1970) instead of the real clock, e.g. a simulated device's fake clock; while
it does, the TLS layer does not check client certificate dates against the real
clock (the device under test checks them on the fake one). Digest nonce lifetimes
stay on the real clock: they measure the server's own waiting.
"""

import contextlib
import datetime
import email.utils
import time

_source = None      # None: the real clock


def seconds():
    """Seconds since 1970 on the server's clock."""
    return time.time() if _source is None else _source()


def now():
    """The server's clock as an aware UTC datetime, to the second."""
    return datetime.datetime.fromtimestamp(int(seconds()), datetime.timezone.utc)


def http_date(delta=0):
    """An HTTP-date (RFC 9110 5.6.7) ``delta`` seconds from now."""
    return email.utils.formatdate(seconds() + delta, usegmt=True)


def is_real():
    return _source is None


@contextlib.contextmanager
def following(source):
    """Date everything on ``source()`` inside the block (enter it before creating
    the DevServer so its CAs are dated on that clock too)."""
    global _source
    saved, _source = _source, source
    try:
        yield
    finally:
        _source = saved
