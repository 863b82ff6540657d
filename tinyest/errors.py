"""The one error family of tinyest.

Every error the library raises on bad input, a bad peer or a failed check is an
``EstError``. Messages carry what caused them: a byte offset for encodings, an
HTTP status for server answers.
"""


class EstError(Exception):
    """Base of every tinyest error."""


class DERError(EstError):
    """Malformed or non-DER encoding. ``offset`` is the byte offset of the fault."""

    def __init__(self, msg, offset=-1):
        if offset >= 0:
            msg = "%s at offset %d" % (msg, offset)
        super().__init__(msg)
        self.offset = offset


class FormatError(EstError):
    """Well-formed DER (or text) that does not have the structure expected
    (wrong PEM armor, unsupported algorithm, wrong key length...)."""


class CryptoError(EstError):
    """A key or signature operation could not be done (bad key, bad parameters)."""


class VerifyError(EstError):
    """A signature, fingerprint or certificate chain did not verify."""


class HttpError(EstError):
    """The server answered with an unexpected HTTP status. ``status`` holds it."""

    def __init__(self, msg, status=0, body=b""):
        super().__init__(msg)
        self.status = status
        self.body = body


class AuthError(HttpError):
    """The server refused our credentials (401/403)."""


class RetryLater(HttpError):
    """The server accepted the request for later processing (202 + Retry-After).
    ``seconds`` is how long to wait before sending the same request again."""

    def __init__(self, seconds, status=202):
        super().__init__("server asks to retry in %d s" % seconds, status)
        self.seconds = seconds


class ProtocolError(EstError):
    """The peer broke HTTP or EST framing (bad status line, bad chunk, too large)."""


class TlsError(EstError):
    """TLS handshake, certificate verification or hostname check failed."""


class ConnectError(EstError):
    """Could not reach the server (refused, reset, unreachable, DNS)."""


class EstTimeout(EstError):
    """A network operation took longer than the configured timeout."""


class StoreError(EstError):
    """The credential store holds no intact generation, a format this version
    cannot read, data it cannot store, or a key and certificate that differ."""
