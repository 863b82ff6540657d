"""The modules a device needs to bootstrap, enroll and renew load no optional module
until a feature asks for it, and the names that moved still resolve at their old place.

Each check imports tinyest afresh (its modules are taken out of sys.modules and put
back afterwards), so what other tests imported does not count.
"""

import sys

# The groups of port_micropython/build.py (tests/test_core_imports.py checks that
# they agree): imported on first use, software crypto, CPython only.
LAZY = ("csr_ext", "csr_read", "csrattrs", "der_extra", "http_auth", "pem", "proxy",
        "serverkeygen")
CRYPTO = ("ec", "ed25519", "hashes", "rsa")
CPYTHON = ("port_cpython",)
OPTIONAL = LAZY + CRYPTO + CPYTHON

CORE = ("client", "csr", "der", "device", "errors", "http", "keys", "pkcs7", "port", "store",
        "x509")


def _ours(k):
    return k == "tinyest" or k.startswith("tinyest.")


def _fresh(fn):
    """Run fn() with a clean tinyest; returns the tinyest submodules then loaded."""
    saved = {}
    for k in list(sys.modules):
        if _ours(k):
            saved[k] = sys.modules.pop(k)
    try:
        fn()
        return [k[8:] for k in sys.modules if k.startswith("tinyest.")]
    finally:
        for k in list(sys.modules):
            if _ours(k):
                del sys.modules[k]
        sys.modules.update(saved)


def _imp(name):
    return __import__("tinyest." + name, None, None, ("x",))


def test_core_imports_no_optional_module():
    def use():
        for name in CORE:
            _imp(name)

    loaded = _fresh(use)
    for name in CORE:
        assert name in loaded, name
    bad = [m for m in loaded if m in OPTIONAL]
    assert not bad, "imported with the core: %s" % bad


def test_client_and_builder_in_use_import_no_optional_module():
    def use():
        client = _imp("client")
        csr = _imp("csr")
        c = client.EstClient("est.example.com", trust=[b"\x30\x03\x02\x01\x00"],
                             auth=("u", "p"), now=False)
        assert c._path("simpleenroll") == "/.well-known/est/simpleenroll"
        b = csr.CsrBuilder().subject([("CN", "dev")]).dns("dev.example.com")
        assert b._names and b._subject

    loaded = _fresh(use)
    bad = [m for m in loaded if m in OPTIONAL]
    assert not bad, "imported without need: %s" % bad


def test_moved_names_resolve_at_their_old_place():
    cases = [
        ("client", "CsrAttrs", "csrattrs"),
        ("client", "apply_csrattrs", "csrattrs"),
        ("http", "parse_challenges", "http_auth"),
        ("http", "choose_challenge", "http_auth"),
        ("http", "basic_authorization", "http_auth"),
        ("http", "digest_authorization", "http_auth"),
        ("http", "parse_multipart", "serverkeygen"),
        ("http", "part_header", "serverkeygen"),
        ("http", "parse_media_type", "serverkeygen"),
        ("http", "MAX_PARTS", "serverkeygen"),
        ("csr", "parse", "csr_read"),
        ("csr", "Csr", "csr_read"),
        ("csr", "MAX_CSR", "csr_read"),
        ("csr", "ip_bytes", "csr_ext"),
        ("csr", "ip_text", "csr_ext"),
        ("der", "utc_time", "der_extra"),
        ("der", "generalized_time", "der_extra"),
        ("der", "time", "der_extra"),
        ("der", "gmtime", "der_extra"),
        ("der", "implicit", "der_extra"),
        ("der", "uint", "der_extra"),
        ("der", "printable", "der_extra"),
        ("der", "ia5", "der_extra"),
    ]
    for old, name, new in cases:
        got = {}

        def use():
            got["old"] = getattr(_imp(old), name)
            got["loaded"] = "tinyest." + new in sys.modules
            got["new"] = getattr(_imp(new), name)

        _fresh(use)
        assert got["loaded"], "%s.%s did not load %s" % (old, name, new)
        assert got["old"] is got["new"], "%s.%s" % (old, name)


def test_unknown_names_still_raise_attribute_error():
    for old in ("client", "http", "csr", "der"):
        m = _imp(old)
        try:
            getattr(m, "no_such_name")
            raise AssertionError("%s.no_such_name resolved" % old)
        except AttributeError:
            pass
        assert not hasattr(m, "no_such_name"), old


def test_lazy_features_load_their_module_when_used():
    def use():
        http = _imp("http")
        ch = http.parse_challenges(['Digest realm="r", nonce="n", qop="auth"'])
        assert http.choose_challenge(ch)[0] == "digest"
        assert "tinyest.http_auth" in sys.modules
        r = http.Response(200, "OK", [("content-type", "multipart/mixed; boundary=b")], b"", True)
        assert r.content_type() == ("multipart/mixed", {"boundary": "b"})
        assert "tinyest.serverkeygen" in sys.modules
        b = _imp("csr").CsrBuilder().subject([("CN", "d")]).ip("192.0.2.1")
        assert b._names[0][1] == b"\xc0\x00\x02\x01"
        assert "tinyest.csr_ext" in sys.modules

    loaded = _fresh(use)
    assert "csr_read" not in loaded and "csrattrs" not in loaded and "proxy" not in loaded
