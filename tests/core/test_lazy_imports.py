"""The modules a device needs to bootstrap, enroll and renew load no optional module
until a feature asks for it.

Each check imports tinyest afresh (its modules are taken out of sys.modules and put
back afterwards), so what other tests imported does not count.
"""

import hashlib
import sys

# The groups of port_micropython/build.py (tests/test_core_imports.py checks that
# they agree): imported on first use, software crypto, never on a board, CPython only,
# EST over CoAP, P-256 in Thumb assembly.
LAZY = ("catrust", "client_rare", "csr_build", "csr_rare", "csrattrs", "der_text", "device_rare", "hostname",
        "http_auth", "http_date", "http_rare", "issued", "keys_rare", "names", "pem", "pkcs7_rare", "proxy",
        "rollover", "runtime_error", "runtime_rare", "serialwire", "serverkeygen", "store_rare", "x509_rare")
CRYPTO = ("ec", "ec_der", "ec_p256", "ec_p256c", "ec_p384", "ed25519", "hashes", "rsa", "sha512")
HOST = ("csr_read", "der_extra", "pkcs7_write")
CPYTHON = ("runtime_cpython",)
COAP = ("coap", "coap_formats", "coaps", "dtls")
THUMB = ("ec_thumb",)
OPTIONAL = LAZY + CRYPTO + HOST + CPYTHON + COAP + THUMB

CORE = ("client", "csr", "der", "der_write", "device", "errors", "http", "keys", "pkcs7", "runtime", "store",
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
    # Not __import__(..., fromlist): a fromlist probes the module for its names, and
    # a module __getattr__ (der, store, x509...) answers by loading its rare half.
    __import__("tinyest." + name)
    return sys.modules["tinyest." + name]


class _Signer:
    # A signer whose key is a fixed P-256 SubjectPublicKeyInfo; no crypto module.
    SPKI = bytes.fromhex(
        "3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a440f2"
        "77037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb64"
        "06837bf51f5")

    def public_key_der(self):
        return self.SPKI

    def algorithm_der(self):
        return b"\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"

    def sign(self, data):
        return b"\x30\x06\x02\x01\x01\x02\x01\x01"


def test_core_imports_no_optional_module():
    def use():
        for name in CORE:
            _imp(name)

    loaded = _fresh(use)
    for name in CORE:
        assert name in loaded, name
    bad = [m for m in loaded if m in OPTIONAL]
    assert not bad, "imported with the core: %s" % bad


def test_client_and_device_requests_import_no_optional_module():
    def use():
        client = _imp("client")
        csr = _imp("csr")
        c = client.EstClient("est.example.com", trust=[b"\x30\x03\x02\x01\x00"],
                             auth=("u", "p"), now=False)
        assert c._path("simpleenroll") == "/.well-known/est/simpleenroll"
        req = csr.request(_Signer(), "dev", ["dev.example.com"])
        assert req[:1] == b"\x30" and b"dev.example.com" in req

    loaded = _fresh(use)
    bad = [m for m in loaded if m in OPTIONAL]
    assert not bad, "imported without need: %s" % bad


def test_lazy_features_load_their_module_when_used():
    def use():
        http_auth = _imp("http_auth")
        ch = http_auth.parse_challenges(['Digest realm="r", nonce="n", qop="auth"'])
        assert http_auth.choose_challenge(ch)[0] == "digest"
        b = _imp("csr_build").CsrBuilder().subject([("CN", "d")]).ip("192.0.2.1")
        assert b._names[0][1] == b"\xc0\x00\x02\x01"
        assert "tinyest.names" in sys.modules  # the builder's attribute table

    loaded = _fresh(use)
    assert "csr_read" not in loaded and "csrattrs" not in loaded and "proxy" not in loaded
    assert "der_extra" not in loaded and "serverkeygen" not in loaded


def test_unload_forgets_all_but_the_transport_and_what_is_kept():
    seen = {}

    def run():
        import tinyest
        from tinyest import client, device, ec, errors, http, pkcs7, x509  # noqa: F401

        old_ec, verify_error = ec, errors.VerifyError
        tinyest.unload(keep=("tinyest.x509",))
        seen["after"] = sorted(k[8:] for k in sys.modules if k.startswith("tinyest."))
        seen["bound"] = [n for n in ("ec", "pkcs7", "x509", "client") if n in tinyest.__dict__]
        from tinyest import ec as new_ec, errors as errors2

        seen["fresh"] = new_ec is not old_ec
        seen["same errors"] = errors2.VerifyError is verify_error
        key = new_ec.from_secret((7).to_bytes(32, "big"))
        digest = hashlib.sha256(b"m").digest()
        seen["works"] = new_ec.verify("P-256", key.public_point(), digest, key.sign(b"m"))

    _fresh(run)
    assert seen["after"] == ["client", "der", "device", "errors", "http", "runtime", "store", "x509"], seen
    assert seen["bound"] == ["x509", "client"], seen
    assert seen["fresh"] and seen["same errors"] and seen["works"], seen


def test_unload_of_the_transport_keeps_the_rest():
    seen = {}

    def run():
        import tinyest
        from tinyest import client, http, http_date, x509  # noqa: F401

        seen["client holds no http"] = "http" not in client.__dict__
        tinyest.unload(names=tinyest.TRANSPORT)
        seen["after"] = sorted(k[8:] for k in sys.modules if k.startswith("tinyest."))

    _fresh(run)
    assert seen["client holds no http"], seen
    assert "http" not in seen["after"] and "http_date" not in seen["after"], seen
    assert "client" in seen["after"] and "x509" in seen["after"], seen


def test_package_exports_est_client_and_still_imports_submodules():
    seen = {}

    def run():
        import tinyest

        seen["bare"] = sorted(k[8:] for k in sys.modules if k.startswith("tinyest."))
        from tinyest import EstClient

        seen["client"] = EstClient is sys.modules["tinyest.client"].EstClient
        from tinyest import der_text, x509  # not loaded yet: through the package __getattr__

        seen["modules"] = (der_text is sys.modules["tinyest.der_text"], x509 is sys.modules["tinyest.x509"])
        del tinyest.x509  # loaded but not bound on the package (as after tinyest.unload)
        from tinyest import x509 as again

        seen["rebound"] = again is x509
        for name in ("no_such_module", "_private"):
            try:
                getattr(tinyest, name)
                seen[name] = "found"
            except ImportError:
                seen[name] = "ImportError"
            except AttributeError:
                seen[name] = "AttributeError"

    _fresh(run)
    assert seen["bare"] == [], seen
    assert seen["client"] and seen["modules"] == (True, True) and seen["rebound"], seen
    assert seen["no_such_module"] == "ImportError" and seen["_private"] == "AttributeError", seen
