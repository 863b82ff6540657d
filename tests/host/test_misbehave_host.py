"""Misbehaving EST servers met during a certificate renewal, on both runtimes.

Every case starts its own misbehaving server (tests/host/misbehave.py) on
127.0.0.1 for each runtime, seeds a credential store as a device holds it
before a renewal, and runs the device's renewal (tests/e2e/misbehave_client.py:
EstClient.simplereenroll, then Store.commit_enrollment only on success) as a
CPython and as a `micropython` subprocess. For each case and runtime it asserts
the library error class and message, the time the attempt took, and that the
store is byte for byte what it was (or, for the cases a client must survive, a
completed renewal with the new key). A hang is killed and reported as such.

The cases run concurrently, eight at a time; the whole file takes 10 to 20
seconds on two cores. ``python tests/host/test_misbehave_host.py`` prints the
observed outcomes as the table rows of docs/robustness.md.
"""
import concurrent.futures
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for p in (ROOT, HERE, ROOT / "tests" / "e2e"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import misbehave  # noqa: E402
import runner  # noqa: E402

RUNTIMES = ("cpython", "micropython")
CLIENT = runner.HERE / "misbehave_client.py"
WORKERS = 8

# Client settings: timeout per socket operation (and, on both runtimes, per TLS
# operation as a whole), deadline for a whole response. The trickle cases use
# a timeout above the one-second gap, so only a total bound can stop them.
FAST = {"timeout": 1}
TRICKLE = {"timeout": 2, "deadline": 3}


def case(name, error, msg=None, within=2.5, client=FAST, check=None, behaviour=None):
    """One row: ``error`` is a class name (or a tuple of them), or None for a
    renewal that must succeed; ``msg`` a regex, or {runtime: regex}."""
    return {"name": name, "behaviour": behaviour or name, "error": error, "msg": msg,
            "within": within, "client": client, "check": check}


def requests(n):
    def check(srv, res):
        assert len(srv["requests"]) == n, srv["requests"]
    return check


def between(lo, hi):
    def check(srv, res):
        assert lo <= len(srv["requests"]) <= hi, srv["requests"]
    return check


def no_http(srv, res):
    # TLS refused: not a byte of HTTP (no CSR, no credential) reached the server.
    assert srv["requests"] == [], srv["requests"]


def never_followed(srv, res):
    assert len(srv["requests"]) == 1, srv["requests"]
    assert srv["backend_connections"] == 0  # the redirect target was never contacted


def body_bytes(got_of_declared):
    # "connection closed after GOT of DECLARED body bytes": check the numbers.
    def check(srv, res):
        got, declared = [int(x) for x in re.findall(r"\d+", res["msg"])]
        assert got_of_declared(got, declared), res["msg"]
        assert len(srv["requests"]) == 1, srv["requests"]
    return check


def reenroll_then_cacerts(srv, res):
    # The issued certificate did not chain: the client fetched /cacerts to
    # look for the issuing CA, then refused.
    assert srv["requests"] == ["POST simplereenroll", "GET cacerts"], srv["requests"]


CASES = [
    case("honest", None, check=requests(1)),
    case("silent", "EstTimeout", r"^timed out \(handshake\)$", check=requests(0)),
    case("tls_silent", "EstTimeout", r"^timed out \(io\)$", check=requests(1)),
    case("trickle_response", "EstTimeout", r"^response not complete within 3 s$", within=5,
         client=TRICKLE),
    case("trickle_tcp_handshake", "EstTimeout", r"^timed out \(handshake\)$", within=3.5,
         client=TRICKLE, check=no_http),
    case("trickle_tcp_response", "EstTimeout", r"^timed out \(io\)$", within=3.5, client=TRICKLE),
    case("close_mid_header", "ProtocolError", r"^connection closed inside a line$", check=requests(1)),
    case("close_mid_body", "ProtocolError", r"^connection closed after \d+ of \d+ body bytes$",
         check=body_bytes(lambda got, declared: got == (declared + 1) // 2)),
    case("reset_mid_body", ("ProtocolError", "ConnectError"),
         r"^connection closed after \d+ of \d+ body bytes$|^\[Errno 104\] ECONNRESET$"),
    case("close_mid_chunk", "ProtocolError", r"^connection closed after 100 of 200 chunk bytes$"),
    case("length_larger", "ProtocolError", r"^connection closed after \d+ of \d+ body bytes$",
         check=body_bytes(lambda got, declared: declared == got + 500)),
    case("length_smaller", "DERError", r"^length \d+ exceeds the \d+ bytes left at offset 0$"),
    case("close_notify_length", None, check=requests(1)),
    case("close_notify_chunked", None, check=requests(1)),
    case("close_notify_close", None, check=requests(1)),
    case("chunked_endless", "ProtocolError", r"^chunked body exceeds the 32768 byte cap$"),
    case("pending_forever", "RetryLater", r"^server asks to retry in 1 s$", within=4.5,
         client={"timeout": 1, "wait": 2.5}, check=between(2, 4)),
    case("pending_no_delay", "RetryLater", r"^server asks to retry in 0 s$", within=4.5,
         client={"timeout": 1, "wait": 2.5}, check=between(2, 4)),
    case("redirect_loop", "HttpError",
         r"^simplereenroll \(redirect to '/\.well-known/est/simplereenroll' not followed\): "
         r"HTTP 307 Temporary Redirect$", check=requests(4)),
    case("redirect_other_port", "HttpError",
         r"^simplereenroll \(redirect to 'https://127\.0\.0\.1:\d+/\.well-known/est/simplereenroll' "
         r"not followed\): HTTP 307", check=never_followed),
    case("redirect_plain_http", "HttpError",
         r"^simplereenroll \(redirect to 'http://127\.0\.0\.1:\d+/\.well-known/est/simplereenroll' "
         r"not followed\): HTTP 307", check=requests(1)),
    case("wrong_content_type", "ProtocolError", r"^simplereenroll: base64 body: bad character 0x3c at 0$"),
    case("mislabelled", None, check=requests(1)),
    case("p7_empty", "VerifyError", r"^simplereenroll: no certificate in the response is for our public key$",
         check=requests(1)),
    case("p7_other_key", "VerifyError",
         r"^simplereenroll: no certificate in the response is for our public key$", check=requests(1)),
    case("p7_other_ca", "VerifyError", r"^no path to a trust anchor$", check=reenroll_then_cacerts),
    case("p7_expired", "VerifyError", r"^CN=device-1 has expired$", check=reenroll_then_cacerts),
    case("server_expired", "TlsError", {
        "cpython": r"^TLS: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: "
                   r"certificate has expired",
        "micropython": r"^TLS: The certificate validity has expired$"}, check=no_http),
    case("server_not_yet_valid", "TlsError", {
        "cpython": r"^TLS: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: "
                   r"certificate is not yet valid",
        "micropython": r"^TLS: The certificate validity starts in the future$"}, check=no_http),
    case("server_other_host", "TlsError", {
        "cpython": r"^TLS: \[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: "
                   r"IP address mismatch, certificate is not valid for '127\.0\.0\.1'",
        "micropython": r"^TLS: The certificate Common Name \(CN\) does not match with the expected CN$"},
         check=no_http),
    # mbedTLS matches an IP address host as text; the client checks the iPAddress entry.
    case("server_ip_as_dns", "TlsError", {
        "cpython": r"IP address mismatch, certificate is not valid for '127\.0\.0\.1'",
        "micropython": r"^TLS: the server certificate does not name 127\.0\.0\.1$"}, check=no_http),
    case("server_cn_only", "TlsError", {
        "cpython": r"IP address mismatch, certificate is not valid for '127\.0\.0\.1'",
        "micropython": r"^TLS: the server certificate does not name 127\.0\.0\.1$"}, check=no_http),
    case("server_wildcard_ip", "TlsError", {
        "cpython": r"IP address mismatch, certificate is not valid for '127\.0\.0\.1'",
        "micropython": r"^TLS: the server certificate does not name 127\.0\.0\.1$"}, check=no_http),
    case("tls10_only", "TlsError", {
        "cpython": r"^TLS: \[SSL: (TLSV1_ALERT_PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL)\]",
        "micropython": r"^TLS: \(-28288, 'MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION'\)$"}, check=no_http),
]
NAMES = [c["name"] for c in CASES]


# ---------------------------------------------------------------- running


def _command(runtime, args_path):
    if runtime == "cpython":
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return [sys.executable, str(CLIENT), "@" + args_path], env
    env = dict(os.environ, MICROPYPATH=":".join([".frozen", str(ROOT)]))
    return [runner.micropython_exe(), "-X", "heapsize=2M", str(CLIENT), "@" + args_path], env


def run_case(pki, workdir, runtime, c):
    """Run one case on one runtime; returns the client's result with the
    store comparison and what the server saw added."""
    name = c["name"]
    srv = misbehave.Misbehaving(pki, c["behaviour"])
    try:
        store = os.path.join(workdir, runtime, name)
        os.makedirs(os.path.dirname(store), exist_ok=True)
        misbehave.seed_store(store, pki)
        before = misbehave.store_files(store)
        conf = {"name": name, "port": srv.port, "store": store}
        conf.update(c["client"])
        args_path = os.path.join(workdir, "%s-%s.json" % (runtime, name))
        with open(args_path, "w") as f:
            json.dump({"cases": [conf], "cn": misbehave.MisPki.DEVICE_CN}, f)
        cmd, env = _command(runtime, args_path)
        limit = c["within"] + 15
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=limit)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                res = {"error": "CRASH", "msg": (proc.stdout + proc.stderr)[-2000:], "unexpected": True}
            else:
                res = json.loads(lines[-1])
        except subprocess.TimeoutExpired:
            res = {"error": "HANG", "msg": "killed after %d s" % limit, "unexpected": True}
        res["wall"] = time.monotonic() - t0
        res["files_same"] = misbehave.store_files(store) == before
        res["server"] = {
            "connections": srv.connections,
            "requests": ["%s %s" % (r.method, r.operation) for r in srv.requests],
            "backend_connections": srv.backend.connections if srv.backend else None,
            "client_certs": [r.client_cert for r in srv.requests],
        }
        return res
    finally:
        srv.close()


def run_matrix(cases=CASES, runtimes=RUNTIMES):
    """{(runtime, name): result} for every case on every runtime."""
    runner.micropython_exe()  # a missing interpreter fails here, before anything runs
    workdir = tempfile.mkdtemp(prefix="tinyest-misbehave-")
    pki = misbehave.MisPki(workdir)
    jobs = [(rt, c) for c in cases for rt in runtimes]
    out = {}
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        futures = {ex.submit(run_case, pki, workdir, rt, c): (rt, c["name"]) for rt, c in jobs}
        for fut in concurrent.futures.as_completed(futures):
            out[futures[fut]] = fut.result()
    out["pki"] = pki
    return out


@pytest.fixture(scope="module")
def matrix():
    return run_matrix()


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("c", CASES, ids=NAMES)
def test_misbehaving_server_during_renewal(matrix, c):
    pki = matrix["pki"]
    for rt in RUNTIMES:
        res = matrix[rt, c["name"]]
        where = "%s on %s: %r" % (c["name"], rt, {k: v for k, v in res.items() if k != "events"})
        assert not res.get("unexpected"), where
        assert res["ms"] <= c["within"] * 1000, where
        if c["error"] is None:
            # A server the client must survive: the renewal completes and the
            # store holds the new key with its certificate.
            assert res.get("renewed") and "error" not in res, where
            assert res["generation_after"] == res["generation_before"] + 1, where
            assert res["new_key"] and res["key_matches"] and not res["files_same"], where
            assert res["server"]["client_certs"][0] == pki.device_der, where
        else:
            allowed = c["error"] if isinstance(c["error"], tuple) else (c["error"],)
            assert res["error"] in allowed, where
            msg = c["msg"][rt] if isinstance(c["msg"], dict) else c["msg"]
            assert re.search(msg, res["msg"]), where
            # The stored credentials are untouched, as loaded by the device
            # and byte for byte on the host.
            assert res["unchanged"] and res["files_same"], where
            assert res["generation_after"] == res["generation_before"] == 1, where
            assert not res["new_key"] and res["key_matches"], where
        if c["check"] is not None:
            c["check"](res["server"], res)


def test_every_case_in_the_docs_table():
    text = (ROOT / "docs" / "robustness.md").read_text()
    rows = [ln for ln in text.splitlines() if ln.startswith("| `")]
    named = {re.match(r"\| `([a-z0-9_]+)`", ln).group(1) for ln in rows}
    assert set(NAMES) <= named, set(NAMES) - named


# ---------------------------------------------------------------- table


def _outcome(res):
    n = len(res["server"]["requests"])
    extra = "" if n == 1 else "; %d requests" % n
    if res.get("renewed"):
        return "renewed (%d ms%s)" % (res["ms"], extra)
    if "ms" not in res:
        return "**%s**" % res["error"]
    return "%s: %s (%d ms%s)" % (res["error"], res["msg"].replace("|", "\\|"), res["ms"], extra)


if __name__ == "__main__":
    m = run_matrix()
    for c in CASES:
        print("| `%s` | %s | %s |" % (c["name"], _outcome(m["cpython", c["name"]]),
                                     _outcome(m["micropython", c["name"]])))
