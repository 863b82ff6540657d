"""The habits of real EST servers the dev server can put on (the table of the
package docstring), their defaults and the check of each value."""

from host_tools.devserver.der import CSRATTRS

HABITS = {
    "b64_wrap": 64,
    "b64_eol": "\n",
    "b64_final_eol": True,
    "b64_nul": False,
    "cte": True,
    "framing": "length",
    "chunk_size": 200,
    "http10": False,
    "keep_alive": True,
    "header_case": "canonical",
    "cgi_status": False,
    "hsts": False,
    "auth": ("basic",),
    "auth_failure": "challenge",
    "realm": "tinyest",
    "enroll_auth": "either",
    "reenroll_check": True,
    "csrattrs": "default",
    "keygen_key": "rsa2048",
    "keygen_pkcs1": False,
    "multipart_eol": "\r\n",
    "enroll_chain": False,
    "der_sets": False,
    "deferred": 0,
    "retry_after": 600,
    "retry_after_date": False,
    "pop": "off",
    "request_body": "lenient",
    "cert_lifetime": 365 * 86400,
    "backdate": 0,
    "issue_wrong_key": False,
    "issue_foreign_ca": False,
    "huge_body": 0,
    "endless": False,
    "redirects": {},
    "tls12_only": False,
    "alpn": None,
    "client_auth": "optional",
}

_CHOICES = {
    "reenroll_check": (True, False, "strict"),
    "framing": ("length", "chunked", "close"),
    "header_case": ("canonical", "lower", "upper", "title"),
    "auth_failure": ("challenge", "text"),
    "enroll_auth": ("either", "password", "cert", "none"),
    "keygen_key": ("rsa2048", "rsa3072", "rsa4096", "ec"),
    "pop": ("off", "check", "require"),
    "request_body": ("lenient", "strict"),
    "client_auth": ("optional", "none"),
    "b64_eol": ("\n", "\r\n"),
    "multipart_eol": ("\n", "\r\n"),
}
AUTH_SCHEMES = ("basic", "digest-sha256", "digest-md5", "bearer")
TLS_HABITS = ("tls12_only", "alpn", "client_auth")


def check(name, value):
    """The habit value to store (``auth`` expanded to a tuple of schemes);
    ValueError for an unknown name or value."""
    if name not in HABITS:
        raise ValueError("unknown habit %r" % name)
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError("habit %s: %r not one of %r" % (name, value, _CHOICES[name]))
    if name == "auth":
        value = (value,) if isinstance(value, str) else tuple(value)
        expanded = []
        for s in value:
            for t in (("digest-sha256", "digest-md5") if s == "digest" else (s,)):
                if t not in AUTH_SCHEMES:
                    raise ValueError("unknown auth scheme %r" % t)
                expanded.append(t)
        value = tuple(expanded)
    if name == "csrattrs" and not isinstance(value, (bytes, bytearray)) and \
            value not in tuple(CSRATTRS) + ("none", "404"):
        raise ValueError("csrattrs: unknown mode %r" % (value,))
    return value
