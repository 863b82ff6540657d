"""A device's EST steps against a server, for the end-to-end tests.

Runs unchanged on CPython and MicroPython:
    micropython tests/e2e/est_client.py @args.json   (or the JSON text itself)

Client keys (top level, or per step under "client" to start a new client):
host, port, label, trust (DER file paths), auth ([user, password]), token,
cert and key (DER file paths, or "issued"/"device" for the certificate issued
and the key made in an earlier step), timeout, max_body, now.

Step keys: op (cacerts, csrattrs, simpleenroll, simplereenroll,
serverkeygen), fingerprint (hex, cacerts), csr (DER file path) or make_csr
({"cn": ..., "dns": ...}: a P-256 key made on the device), wait, pop.

Prints one JSON object: {"steps": [{op, certs (hex DER), key (hex), attrs,
rollover, server_verified, error, msg, ms}], "events": [...]}.
"""

import binascii
import json
import sys
import time

import e2e_io
from tinyest.client import EstClient
from tinyest.errors import EstError


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _ms():
    try:
        return time.ticks_ms()
    except AttributeError:
        return int(time.monotonic() * 1000)


def _hex(b):
    return binascii.hexlify(bytes(b)).decode()


def _material(v, state, what):
    if v is None:
        return None
    if v in ("issued", "device", "server"):
        return state[v + "_" + what]
    return _read(v)


def make_client(conf, state, events):
    def progress(stage, detail):
        events.append([stage, detail])

    kw = {}
    for k in ("label", "token", "timeout", "max_body", "now"):
        if k in conf:
            kw[k] = conf[k]
    if conf.get("auth"):
        kw["auth"] = (conf["auth"][0], conf["auth"][1])
    trust = [_read(p) for p in conf.get("trust", [])]
    if conf.get("trust_state"):
        trust += state.get("trust", [])
    return EstClient(conf["host"], conf["port"], trust=trust,
                     cert=_material(conf.get("cert"), state, "cert"),
                     key=_material(conf.get("key"), state, "key"),
                     progress=progress, **kw)


def _csr(step, state):
    if "csr" in step:
        return _read(step["csr"])
    m = step["make_csr"]
    from tinyest import ec
    from tinyest.csr_build import CsrBuilder

    key = ec.generate("P-256")
    b = CsrBuilder().subject([("CN", m["cn"])])
    if m.get("dns"):
        b = b.dns(m["dns"])
    state["new_key"] = key.to_der()
    if step.get("pop"):
        return lambda cp: b.challenge_password(cp).sign(key)
    return b.sign(key)


def run(args):
    state = {}
    events = []
    out = []
    base = dict(args)
    base.pop("steps", None)
    client = make_client(base, state, events)
    for step in args["steps"]:
        if "client" in step:
            conf = dict(base)
            conf.update(step["client"])
            client = make_client(conf, state, events)
        res = {"op": step["op"]}
        t0 = _ms()
        try:
            op = step["op"]
            if op == "cacerts":
                fp = step.get("fingerprint")
                certs = client.cacerts(bootstrap_fingerprint=binascii.unhexlify(fp) if fp else None)
                res["certs"] = [_hex(c) for c in certs]
                state["trust"] = [bytes(t) for t in client.trust] + [bytes(a) for a in client.ca_anchors]
                res["server_verified"] = client.bootstrap_server_verified
                ro = client.rollover
                if ro is not None:
                    res["rollover"] = {"new_with_new": _hex(ro.new_with_new or b""),
                                       "new_with_old": _hex(ro.new_with_old or b""),
                                       "old_with_new": _hex(ro.old_with_new or b"")}
            elif op == "csrattrs":
                a = client.csrattrs()
                res["attrs"] = {"challenge_password": a.challenge_password, "key_type": a.key_type,
                                "curve": a.curve, "hash": a.hash,
                                "extensions": [_hex(e) for e in a.extensions],
                                "oids": [_hex(o) for o in a.oids], "empty": a.empty()}
            elif op in ("simpleenroll", "simplereenroll"):
                csr = _csr(step, state)
                fn = client.simpleenroll if op == "simpleenroll" else client.simplereenroll
                certs = fn(csr, wait=step.get("wait", 0), pop=step.get("pop", False))
                res["certs"] = [_hex(c) for c in certs]
                state["issued_cert"] = bytes(certs[0])
                if "new_key" in state:
                    state["device_key"] = state.pop("new_key")
                    state["issued_key"] = state["device_key"]
            elif op == "serverkeygen":
                key, certs = client.serverkeygen(_csr(state=state, step=step), wait=step.get("wait", 0))
                state.pop("new_key", None)
                res["key"] = _hex(key)
                res["certs"] = [_hex(c) for c in certs]
                state["server_cert"] = bytes(certs[0])
                state["server_key"] = bytes(key)
            else:
                raise ValueError("unknown op " + op)
        except EstError as e:
            e2e_io.error(res, e)
        res["ms"] = _ms() - t0
        out.append(res)
    return {"steps": out, "events": events}


if __name__ == "__main__":
    print(json.dumps(run(e2e_io.args(sys.argv[1]))))
