"""The fuzz corpus (tests/fuzz/corpus/<target>/, written by tests/fuzz/make_corpus.py)
through every parser, on both runtimes: only tinyest.errors classes may escape, the
round trips of tests/fuzz/harness.py must hold, and no input may take longer than
TIME_LIMIT_MS. Files named crash-* are regressions of findings. Also the hostile
inputs of tests/fuzz/hostile.py: each stopped early by its cap with the right error."""

import os
import sys
import time

from _t import VECTORS

FUZZ = VECTORS.rsplit("/", 1)[0] + "/fuzz"
if FUZZ not in sys.path:
    sys.path.append(FUZZ)

import harness  # noqa: E402
import hostile  # noqa: E402
from tinyest.errors import EstError  # noqa: E402

TIME_LIMIT_MS = 2000
MAX_CORPUS_BYTES = 1 << 20


def _ms():
    if hasattr(time, "ticks_ms"):
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def _elapsed(t0):
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(time.ticks_ms(), t0)
    return _ms() - t0


def _files(target):
    d = FUZZ + "/corpus/" + target
    return d, sorted(os.listdir(d))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _corpus(target):
    d, names = _files(target)
    assert names, "no corpus for " + target
    bad = []
    for name in names:
        data = _read(d + "/" + name)
        t0 = _ms()
        try:
            harness.run(target, data)
        except Exception as e:  # a finding: anything but an EstError, or a failed property
            bad.append("%s/%s: %s: %s" % (target, name, type(e).__name__, e))
        dt = _elapsed(t0)
        if dt > TIME_LIMIT_MS:
            bad.append("%s/%s: took %d ms" % (target, name, dt))
    assert not bad, "\n".join(bad)


def test_der():
    _corpus("der")


def test_x509():
    _corpus("x509")


def test_pkcs7():
    _corpus("pkcs7")


def test_csrattrs():
    _corpus("csrattrs")


def test_pem():
    _corpus("pem")


def test_keys():
    _corpus("keys")


def test_spki():
    _corpus("spki")


def test_signature():
    _corpus("signature")


def test_csr():
    _corpus("csr")


def test_store():
    _corpus("store")


def test_store_body():
    _corpus("store_body")


def test_http_response():
    _corpus("http_response")


def test_proxy_connect():
    _corpus("proxy_connect")


def test_b64body():
    _corpus("b64body")


def test_multipart():
    _corpus("multipart")


def test_http_date():
    _corpus("http_date")


def test_www_authenticate():
    _corpus("www_authenticate")


def test_every_target_has_a_corpus_and_the_corpus_is_small():
    total = 0
    count = 0
    for target, _ in harness.TARGETS:
        d, names = _files(target)
        assert len(names) >= 5, target
        for n in names:
            total += os.stat(d + "/" + n)[6]
            count += 1
    assert total < MAX_CORPUS_BYTES, total
    assert count < 500, count


def test_harness_accepts_the_seeds():
    # The property checks are not vacuous: real encodings reach the round trips.
    accepted = {}
    for target, _ in harness.TARGETS:
        d, names = _files(target)
        accepted[target] = 0
        for n in names:
            try:
                if harness.run(target, _read(d + "/" + n)) == "ok":
                    accepted[target] += 1
            except Exception:
                pass  # reported by the test of that target
    for target in accepted:
        if target != "signature":  # signatures of nobody: refused by design
            assert accepted[target] >= 1, target


def test_hostile_inputs_are_capped():
    inp = hostile.build_inputs()
    bad = []
    for name, exc, fn in hostile.cases(inp):
        t0 = _ms()
        outcome, read, msg = hostile.run_case(fn)
        dt = _elapsed(t0)
        if outcome != exc.__name__ and not (exc is EstError and outcome in ("DERError", "FormatError")):
            bad.append("%s: %s %s (expected %s)" % (name, outcome, msg, exc.__name__))
        if read > 256 * 1024:
            bad.append("%s: read %d bytes before stopping" % (name, read))
        if dt > TIME_LIMIT_MS:
            bad.append("%s: took %d ms" % (name, dt))
    for name, fn in hostile.controls():
        outcome, read, msg = hostile.run_case(fn)
        if outcome != "OK":
            bad.append("%s: %s %s" % (name, outcome, msg))
    assert not bad, "\n".join(bad)
