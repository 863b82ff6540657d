"""The one error family of tinyest.

Every error the library raises on bad input, a bad peer or a failed check is an
``EstError``. Messages carry what caused them: a byte offset for encodings, an
HTTP status for server answers.

``EstError``
    Base of every tinyest error.
``DERError(msg, offset=-1)``
    Malformed or non-DER encoding. ``offset`` is the byte offset of the fault
    (appended to the message as "at offset N" when known).
``FormatError``
    Well-formed DER (or text) that does not have the structure expected (wrong
    PEM armor, unsupported algorithm, wrong key length...).
``CryptoError``
    A key or signature operation could not be done (bad key, bad parameters).
``VerifyError``
    A signature, fingerprint or certificate chain did not verify.
``HttpError(msg, status=0, body=b"")``
    The server answered with an unexpected HTTP status: ``status``, ``body``.
``AuthError``
    An HttpError: the server refused our credentials (401/403).
``RetryLater(seconds, status=202)``
    An HttpError: the server accepted the request for later processing (202 +
    Retry-After). ``seconds`` is how long to wait before sending the same
    request again.
``ProtocolError``
    The peer broke HTTP or EST framing (bad status line, bad chunk, too large).
``TlsError``
    TLS handshake, certificate verification or hostname check failed.
``ConnectError``
    Could not reach the server (refused, reset, unreachable, DNS).
``EstTimeout``
    A network operation took longer than the configured timeout.
``StoreError``
    The credential store holds no intact generation, a format this version
    cannot read, data it cannot store, or a key and certificate that differ.

The classes without attributes of their own are made with ``type()``: on a
board each ``class`` statement costs a compiled body besides the type. They
share one empty class dict (nothing sets class attributes on an exception).
The constructors call ``super().__init__``: on MicroPython that is what sets
the native exception's args (``Exception.__init__`` does not exist there).
"""


class EstError(Exception):
    pass


class DERError(EstError):
    def __init__(self, msg, offset=-1):
        if offset >= 0:
            msg = "%s at offset %d" % (msg, offset)
        super().__init__(msg)
        self.offset = offset


class HttpError(EstError):
    def __init__(self, msg, status=0, body=b""):
        super().__init__(msg)
        self.status = status
        self.body = body


class RetryLater(HttpError):
    def __init__(self, seconds, status=202):
        super().__init__("server asks to retry in %d s" % seconds, status)
        self.seconds = seconds


_D = {}
AuthError = type("AuthError", (HttpError,), _D)
FormatError = type("FormatError", (EstError,), _D)
CryptoError = type("CryptoError", (EstError,), _D)
VerifyError = type("VerifyError", (EstError,), _D)
ProtocolError = type("ProtocolError", (EstError,), _D)
TlsError = type("TlsError", (EstError,), _D)
ConnectError = type("ConnectError", (EstError,), _D)
EstTimeout = type("EstTimeout", (EstError,), _D)
StoreError = type("StoreError", (EstError,), _D)
