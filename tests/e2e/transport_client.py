"""One HTTP exchange over tinyest's transport, for the transport tests.

Runs unchanged on CPython and MicroPython:
    micropython tests/e2e/transport_client.py @args.json   (or the JSON text itself)
Keys: host, port, trust (list of DER file paths), cert, key (DER file paths),
timeout, deadline, proxy ("host:port"), bootstrap, method, path, body (text),
headers (list of [name, value]), max_body, repeat (requests on the same
connection). Prints one JSON object: status, reason, body (hex), headers,
chain (hex DER list, bootstrap only), seconds; or error (class name) and msg.
"""

import binascii
import json
import sys
import time

import e2e_io
from tinyest import http
from tinyest.errors import EstError


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _clock():
    try:
        return time.ticks_ms() / 1000
    except AttributeError:
        return time.monotonic()


def run(args):
    out = {}
    t0 = _clock()
    try:
        conn = http.Connection(
            args["host"], args["port"],
            trust=[_read(p) for p in args.get("trust", [])],
            cert=_read(args["cert"]) if args.get("cert") else None,
            key=_read(args["key"]) if args.get("key") else None,
            timeout=args.get("timeout", 5),
            proxy=args.get("proxy"),
            bootstrap=args.get("bootstrap", False),
            deadline=args.get("deadline"),
        )
        try:
            if conn.chain is not None:
                out["chain"] = [binascii.hexlify(c).decode() for c in conn.chain]
            body = args.get("body")
            if body is not None:
                body = body.encode()
            headers = [(k, v) for k, v in args.get("headers", [])]
            results = []
            for _ in range(args.get("repeat", 1)):
                r = conn.request(args.get("method", "GET"), args.get("path", "/"), headers, body,
                                 args.get("max_body", http.MAX_BODY))
                results.append({
                    "status": r.status,
                    "reason": r.reason,
                    "body": binascii.hexlify(bytes(r.body)).decode(),
                    "headers": [[k, v] for k, v in r.headers],
                    "keep_alive": r.keep_alive,
                })
            out.update(results[0])
            out["responses"] = results
        finally:
            conn.close()
    except EstError as e:
        out["error"] = type(e).__name__
        out["msg"] = str(e)
    out["seconds"] = _clock() - t0
    return out


if __name__ == "__main__":
    print(json.dumps(run(e2e_io.args(sys.argv[1]))))
