"""SHA-256, SHA-384, SHA-512 and HMAC (RFC 2104) for tinyest.

Supported names: "sha256", "sha384", "sha512". ``new(name)`` returns an object
with ``update(data)`` and ``digest()``; ``sha256/sha384/sha512(data)`` return the
digest at once; ``digest_size``/``block_size`` give the sizes in bytes. An
unknown name raises FormatError.

SHA-256 always comes from ``hashlib``. SHA-384 and SHA-512 come from ``hashlib``
when the port has them (CPython) and otherwise from the pure-Python FIPS 180-4
implementation in ``tinyest.sha512`` (MicroPython has neither), imported only
then: a device that hashes with SHA-256 alone never loads it. ``_SPLIT`` picks
its compression function (see there).

Side channels: HMAC keys are padded and XORed as whole integers; SHA-2 adds no
secret-dependent branches (see ``tinyest.sha512`` for the pure code).
"""

import hashlib
import sys

from tinyest.errors import FormatError

# The pure SHA-512 works on 32-bit halves on a 64-bit MicroPython (small ints).
_SPLIT = sys.implementation.name == "micropython" and sys.maxsize > 0xFFFFFFFF

# name -> (digest size, block size)
_SIZES = {"sha256": (32, 64), "sha384": (48, 128), "sha512": (64, 128)}


def _info(name):
    try:
        return _SIZES[name]
    except KeyError:
        raise FormatError("unsupported hash %r" % (name,))


def new(name, data=b""):
    """A hash object for "sha256", "sha384" or "sha512", fed with data."""
    _info(name)
    h = getattr(hashlib, name, None)
    if h is None:
        from tinyest.sha512 import Sha384, Sha512

        h = Sha384 if name == "sha384" else Sha512
    h = h()
    h.update(data)
    return h


def digest_size(name):
    return _info(name)[0]


def block_size(name):
    return _info(name)[1]


def sha256(data):
    return hashlib.sha256(data).digest()


def sha384(data):
    return new("sha384", data).digest()


def sha512(data):
    return new("sha512", data).digest()


def hmac(name, key, msg):
    """HMAC (RFC 2104) of msg under key with the named hash."""
    block = _info(name)[1]
    key = bytes(key)
    if len(key) > block:
        key = new(name, key).digest()
    k = int.from_bytes(key + bytes(block - len(key)), "big")
    inner = new(name, (k ^ int.from_bytes(b"\x36" * block, "big")).to_bytes(block, "big"))
    inner.update(msg)
    outer = new(name, (k ^ int.from_bytes(b"\x5c" * block, "big")).to_bytes(block, "big"))
    outer.update(inner.digest())
    return outer.digest()
