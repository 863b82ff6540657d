"""A device renewing its certificate against a misbehaving server, for the robustness tests.

Runs unchanged on CPython and MicroPython:
    micropython tests/e2e/misbehave_client.py @args.json   (or the JSON text itself)

Args: {"cases": [{name, port, store, host (default 127.0.0.1), timeout, deadline,
wait, max_body}]}. The device makes one new P-256 key and CSR, then for each case
does what it does at renewal time: load the store, open an EstClient with the
stored trust anchors, key and certificate, call simplereenroll, and only on
success commit_enrollment the new key and chain. Prints one JSON line per case:
name, error (class name) and msg (or renewed: true), status, seconds (of a
RetryLater), ms (time of the attempt), unexpected (an exception outside the
library's error family), unchanged (the store loads exactly as before),
generation before and after, new_key (the store holds the new key),
key_matches (stored key and first certificate agree), events (progress).
"""

import json
import sys
import time

import e2e_io
from tinyest import ec
from tinyest.client import EstClient
from tinyest.csr_build import CsrBuilder
from tinyest.errors import EstError
from tinyest.store import Store, key_matches


def _ms():
    try:
        return time.ticks_ms()
    except AttributeError:
        return int(time.monotonic() * 1000)


def _since(t0):
    try:
        return time.ticks_diff(time.ticks_ms(), t0)
    except AttributeError:
        return _ms() - t0


def renew(case, csr, new_key_der):
    store = Store(case["store"])
    before = store.load()
    events = []
    res = {"name": case["name"], "generation_before": before.generation}
    t0 = _ms()
    try:
        client = EstClient(case.get("host", "127.0.0.1"), case["port"], trust=before.trust,
                           cert=before.chain[0], key=before.key_der,
                           timeout=case.get("timeout", 1), deadline=case.get("deadline"),
                           max_body=case.get("max_body", 32768),
                           progress=lambda stage, detail: events.append([stage, detail]))
        certs = client.simplereenroll(csr, wait=case.get("wait", 0))
        store.commit_enrollment(new_key_der, certs)
        res["renewed"] = True
    except EstError as e:
        e2e_io.error(res, e)
    except Exception as e:  # noqa: BLE001 - reported: the tests fail on it
        res["error"] = type(e).__name__
        res["msg"] = str(e)
        res["unexpected"] = True
    res["ms"] = _since(t0)
    after = store.load()
    res["generation_after"] = after.generation
    res["unchanged"] = after == before
    res["new_key"] = after.key_der == new_key_der
    res["key_matches"] = key_matches(after.key_der, after.chain[0])
    res["events"] = events
    return res


def run(args, emit=None):
    key = ec.generate("P-256")
    csr = CsrBuilder().subject([("CN", args.get("cn", "device-1"))]).sign(key)
    new_key_der = key.to_der()
    out = []
    for case in args["cases"]:
        res = renew(case, csr, new_key_der)
        out.append(res)
        if emit is not None:
            emit(res)
    return out


if __name__ == "__main__":
    run(e2e_io.args(sys.argv[1]), lambda res: print(json.dumps(res)))
