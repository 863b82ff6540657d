"""Runs every benchmark and regenerates docs/benchmarks.md and docs/benchmarks.png.

    python bench/run.py [--quick] [--no-chart]

Signatures (bench_sign.py, bench_sign_other.py), enrollment as whole processes
(bench_enroll.py), memory under MicroPython (bench_memory.py), .mpy sizes
(port_micropython/build.py), parsing scaling (bench_scaling.py), the device fit on
the board models (bench_fit.py) and the RP2040 firmware in its emulator
(bench_rp2.py, where ../shared/tools/rp2 is present), in one run on this machine. Prints progress and the main table; it never asserts
anything about the figures. Raw results go to bench/out/results.json.
``--quick`` takes fewer repetitions (a smoke run; its figures are not for the
docs, so it writes bench/out/ only); ``--from-json PATH`` redraws the table
and chart of an earlier results.json into bench/out/.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import ROOT  # noqa: E402

sys.path.insert(0, ROOT)

DOCS = os.path.join(ROOT, "docs")
OUT = os.path.join(HERE, "out")

LIBS = [("tiny-mp", "tinyest, MicroPython"), ("tiny-cpy", "tinyest, CPython"),
        ("ecdsa", "python-ecdsa"), ("crypto", "cryptography")]
SIG_OPS = [  # (label, key, source)
    ("P-256 keygen", "keygen256", "ec"),
    ("P-256 sign", "sign256", "ec"),
    ("P-256 verify", "verify256", "ec"),
    ("P-384 sign", "sign384", "ec"),
    ("P-384 verify", "verify384", "ec"),
    ("Ed25519 sign", "ed_sign", "other"),
    ("Ed25519 verify", "ed_verify", "other"),
    ("RSA-2048 sign", "rsa_sign", "other"),
    ("RSA-2048 verify", "rsa_verify", "other"),
]
HEADLINE_SIG = ("keygen256", "sign256", "verify256", "ed_sign", "rsa_sign")
COLORS = {"tiny-mp": "#1f77b4", "tiny-cpy": "#ff7f0e", "ecdsa": "#2ca02c", "crypto": "#7f7f7f",
          "pipeline": "#7f7f7f", "mp": "#1f77b4", "cpy": "#ff7f0e"}


def log(msg):
    print(msg, flush=True)


def _machine_cpu():
    """(busy CPU seconds of the whole machine so far, CPU seconds of this
    process and its waited-for children so far), or None off Linux."""
    import resource

    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    busy = (sum(v[:8]) - v[3] - v[4]) / tick  # all but idle and iowait (guest is in user)
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        own += ru.ru_utime + ru.ru_stime
    return busy, own, time.time()


def _other_share(a, b):
    """Share of the machine's CPU capacity that other processes used between
    two _machine_cpu() samples (0..1), or None."""
    if a is None or b is None or b[2] <= a[2]:
        return None
    other = (b[0] - a[0]) - (b[1] - a[1])
    return max(0.0, min(1.0, other / ((b[2] - a[2]) * (os.cpu_count() or 1))))


def _busy(res):
    """The share of the CPU other work took during the run (text), if it
    reached a tenth."""
    v = res.get("other_cpu")
    if v is not None and v >= 0.1:
        return "%.0f%%" % (100 * v)
    return None


def _other_text(res):
    if res.get("other_cpu") is None:
        return "–"
    steps = ", ".join("%s %.0f%%" % (k, 100 * v) for k, v in res.get("other_cpu_steps", {}).items()
                      if v is not None)
    total = "%.0f%% of the cores' time" % (100 * res["other_cpu"])
    return "%s (%s)" % (total, steps) if steps else total


def _loadavg():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return None


# ---------------------------------------------------------------- measuring


def measure_size():
    build = common.build_module()

    with tempfile.TemporaryDirectory(prefix="tinyest-bench-size-") as d:
        rows = build.build(pathlib.Path(d))
    if hasattr(build, "group"):
        group = build.group
    else:
        def group(n):
            return "optional" if n in build.OPTIONAL else "core"
    return {"modules": [{"name": n, "py": py, "mpy": mpy, "group": group(n)} for n, py, mpy in rows]}


GROUP_TEXT = [  # (group, what it holds, chart colour)
    ("core", "what a device imports to bootstrap, enroll and renew", "#1f77b4"),
    ("lazy", "imported only by the function that needs it (401 answer, csrattrs, serverkeygen, ...)",
     "#6baed6"),
    ("crypto", "software keys: a board signing with a secure element leaves them out", "#c6dbef"),
    ("host", "hosts and tests only; no board loads them (the CSR reader, DER writers)", "#eeeeee"),
    ("CPython", "CPython only; MicroPython never imports it", "#dddddd"),
    ("optional", "optional", "#c6dbef"),
]


def _group_total(size, groups):
    return sum(m["mpy"] for m in size if m.get("group") in groups) / 1024


def measure_signatures(runs):
    import bench_sign
    import bench_sign_other

    ec = bench_sign._cpython(runs)
    mp, err = bench_sign._tiny_micropython(runs, "4M")
    ec["tiny-mp"] = mp
    other = bench_sign_other.run(runs, "4M")
    res = {"runs": runs, "verify_runs_ec": max(3, runs // 3), "mp_heap": "4M", "errors": [], "ops": {}}
    if err:
        res["errors"].append("MicroPython ECDSA: " + err)
    if other.get("mp_error"):
        res["errors"].append("MicroPython Ed25519/RSA: " + other["mp_error"])
    for label, key, src in SIG_OPS:
        table = ec if src == "ec" else other
        res["ops"][key] = {lib: (table.get(lib) or {}).get(key) for lib, _ in LIBS}
    return res


def run_all(quick):
    import bench_enroll
    import bench_memory
    import bench_scaling

    results = {"machine": common.machine(), "load_start": _loadavg(), "quick": quick,
               "other_cpu_steps": {}}
    t0 = time.time()
    first = _machine_cpu()
    steps = [
        ("size", lambda: measure_size()),
        ("signatures", lambda: measure_signatures(9 if quick else 51)),
        ("scaling", lambda: bench_scaling.run(5 if quick else 21)),
        ("enrollment", lambda: bench_enroll.run(3 if quick else 15, "256K",
                                                log=None if quick else log)),
        ("memory", lambda: bench_memory.run(2, log=log)),
        ("fit", lambda: measure_fit()),
        ("rp2", lambda: measure_rp2(2 if quick else 5)),
    ]
    for name, fn in steps:
        t = time.time()
        log("== %s" % name)
        before = _machine_cpu()
        results[name] = fn()
        results["other_cpu_steps"][name] = _other_share(before, _machine_cpu())
        log("   %.1f s" % (time.time() - t))
    results["other_cpu"] = _other_share(first, _machine_cpu())
    results["load_end"] = _loadavg()
    results["seconds"] = time.time() - t0
    return results


# The device path's smallest heap (KiB) before the device-fit work (commit 793eae8 with
# csr.renewal added, measured by bench/bench_fit.py on the same board models), the budgets,
# and the .mpy groups then: the "before" columns of the Device fit table.
FIT_BEFORE = {("micropython-32-tlsheap", "full"): 194, ("micropython-32-tlsheap", "renew"): 161,
              ("micropython-32", "full"): 146, ("micropython-32", "renew"): 129}
FIT_BUDGET = {("micropython-32-tlsheap", "full"): 96, ("micropython-32-tlsheap", "renew"): 88,
              ("micropython-32", "full"): 80, ("micropython-32", "renew"): 72}
MPY_BEFORE = {"device path": 61.6, "all a board may load": 99.0}


def measure_fit():
    """Smallest heap of the device path on the two 32-bit board models (bench_fit)."""
    import shutil
    import tempfile

    import bench_fit

    out = {"rows": [], "error": None}
    work = pathlib.Path(tempfile.mkdtemp(prefix="tinyest-fit-"))
    try:
        bench_fit.build.build(work / "mpy")
        for name in ("micropython-32-tlsheap", "micropython-32"):
            exe = bench_fit.TOOLS / name
            if not exe.exists():
                out["error"] = "%s is absent" % exe
                continue
            r = bench_fit.measure(work / "mpy", work / name, exe)
            for op in ("full", "renew"):
                out["rows"].append({"interpreter": name, "op": op, "kib": r[op][1],
                                    "lowest": r[op][0]})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def measure_rp2(runs):
    """bench/bench_rp2.py's table (the RP2040 firmware in an emulator beside the
    unix port), as it prints it; None where ../shared/tools/rp2 is absent."""
    p = subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name("bench_rp2.py")), "--runs", str(runs)],
                       capture_output=True, text=True, timeout=600)
    text = p.stdout.strip()
    if p.returncode or not text or text.startswith("bench_rp2:"):
        return {"error": text or p.stderr.strip()[-300:], "table": None}
    return {"error": None, "table": text}


# ---------------------------------------------------------------- formatting


def _ms(v):
    if v is None:
        return "–"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def _x(v):
    return "–" if v is None else "%.2f×" % v


def _div(a, b):
    return a / b if a is not None and b else None


def _table(head, rows, align=None):
    align = align or ["l"] + ["r"] * (len(head) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def _kib(v):
    return "–" if v is None else "%.1f" % (v / 1024)


def main_table(res):
    """The headline table: rows of operations, columns of contenders."""
    sig = res["signatures"]["ops"]
    en = res["enrollment"]["rows"]
    mem = {r["op"]: r for r in res["memory"].get("ops", [])}
    size = res["size"]["modules"]
    head = ["", "tinyest on MicroPython", "tinyest on CPython", "python-ecdsa", "cryptography",
            "openssl + curl"]
    rows = []
    for label, key, _ in SIG_OPS:
        if key not in HEADLINE_SIG:
            continue
        v = sig[key]
        rows.append(["%s, ms" % label] + [_ms(v[lib]) for lib, _ in LIBS] + ["–"])

    def en_cell(k, field, scale=1.0, fmt="%.3f"):
        row = en.get(k)
        if not row or row[field][1] is None:
            return "–"
        return fmt % (row[field][1] / scale)

    rows.append(["Enrollment CPU, s"] + [en_cell("mp", "cpu"), en_cell("cpy", "cpu"), "–", "–",
                                         en_cell("pipeline", "cpu")])
    rows.append(["Enrollment wall, s"] + [en_cell("mp", "wall"), en_cell("cpy", "wall"), "–", "–",
                                          en_cell("pipeline", "wall")])
    rows.append(["Enrollment peak RSS, MiB"] + [en_cell("mp", "rss", 1024, "%.1f"),
                                                en_cell("cpy", "rss", 1024, "%.1f"), "–", "–",
                                                en_cell("pipeline", "rss", 1024, "%.1f")])
    e = mem.get("enroll", {})
    rows.append(["Enrollment: smallest heap / working set, KiB",
                 "%s / %s" % (e.get("heap_kib", "–"), e.get("work_kib", "–")),
                 "%s (tracemalloc peak)" % _kib(e.get("cpython_peak")), "–", "–", "–"])
    rows.append(["Code, .mpy KiB (core / with lazy modules and software crypto)",
                 "%.1f / %.1f" % (_group_total(size, ("core",)),
                                  _group_total(size, ("core", "lazy", "crypto", "optional"))),
                 "–", "–", "–", "–"])
    return _table(head, rows)


def markdown(res, chart):
    m = res["machine"]
    sig = res["signatures"]
    en = res["enrollment"]
    mem = res["memory"]
    sc = res["scaling"]
    lines = []
    add = lines.append
    add("# tinyest benchmarks")
    add("")
    add("Generated by `python bench/run.py` on %s in %.0f s; do not edit by hand. Every figure comes "
        "from the same run on the machine below; times are medians of repeated runs. How each figure is "
        "taken: [bench/README.md](../bench/README.md)." % (m["date"], res["seconds"]))
    add("")
    if chart:
        add("![Benchmark charts](benchmarks.png)")
        add("")
    add("## Summary")
    add("")
    add(main_table(res))
    add("")
    add("## Machine")
    add("")
    rows = [
        ["Date", m["date"]],
        ["CPU", m["cpu"]],
        ["Cores", m["cores"]],
        ["Memory", m["memory"]],
        ["OS", m["os"]],
        ["CPU taken by other processes during the run", _other_text(res)],
        ["Load average (1, 5, 15 min) at start / end (the end includes this run)",
         "%s / %s" % (res["load_start"], res["load_end"])],
        ["Python", m["python"]],
        ["MicroPython", m["micropython"]],
        ["mpy-cross", m["mpy_cross"]],
        ["OpenSSL (command)", m["openssl_cli"]],
        ["OpenSSL (CPython ssl)", m["python_ssl"]],
        ["curl", m["curl"]],
        ["python-ecdsa", m["ecdsa"]],
        ["cryptography", m["cryptography"]],
    ]
    add(_table(["", ""], [[a, b if b else "–"] for a, b in rows], ["l", "l"]))
    add("")
    busy = _busy(res)
    if busy:
        add("Other work was running on this machine (it took %s of the CPU during the run): the "
            "absolute figures are slower and noisier than on an idle machine; ratios within the run, "
            "taken with the contenders interleaved, hold up better." % busy)
        add("")

    # signatures
    add("## Signatures")
    add("")
    add("Milliseconds per operation, median of %d runs (ECDSA verify: %d); on CPython the libraries take "
        "turns within each repetition. MicroPython runs the same tinyest code (heap %s). RSA-2048 is "
        "PKCS#1 v1.5 with SHA-256 and the same key for both libraries; python-ecdsa has no RSA."
        % (sig["runs"], sig["verify_runs_ec"], sig["mp_heap"]))
    add("")
    rows = []
    for label, key, _ in SIG_OPS:
        v = sig["ops"][key]
        rows.append([label] + [_ms(v[lib]) for lib, _ in LIBS]
                    + [_x(_div(v["tiny-cpy"], v["ecdsa"])), _x(_div(v["tiny-mp"], v["tiny-cpy"]))])
    add(_table(["operation, ms"] + [n for _, n in LIBS] + ["tinyest CPython / python-ecdsa",
                                                           "MicroPython / CPython"], rows))
    for e in sig["errors"]:
        add("")
        add("Not measured: %s" % e)
    add("")

    # enrollment
    add("## Enrollment")
    add("")
    add("One process per enrollment: P-256 keygen, CSR, verified TLS, `/simpleenroll` with a password, "
        "the issued certificate checked (key match, chain to the CA), key and certificate written to "
        "files; against the dev server on loopback (in the benchmark's own process, not measured). "
        "%d rounds after one warm-up round, the contenders taking turns in a rotating order; "
        "min / median / max. CPU is user + system time of the process and all it waited for; peak RSS "
        "is that of the largest single process. The `-c pass` rows are the bare interpreter start: the "
        "`micropython` command used here is a CPython process hosting MicroPython, so its start-up "
        "is CPython's, not a board's. Ratios are medians over the pipeline's median. MicroPython heap: %s."
        % (en["rounds"], en["heap"]))
    add("")
    import bench_enroll

    rows = []
    for k in ("mp", "cpy", "pipeline", "mp_start", "cpy_start"):
        row = en["rows"].get(k)
        if not row or not row["n"]:
            continue

        def trio(t, scale=1.0, fmt="%.3f"):
            return "–" if t[1] is None else " / ".join(fmt % (v / scale) for v in t)

        rows.append([bench_enroll.NAMES[k], trio(row["cpu"]), trio(row["wall"]),
                     trio(row["rss"], 1024, "%.1f"),
                     _x(bench_enroll.ratio(en, k, "cpu")), _x(bench_enroll.ratio(en, k, "wall")),
                     _x(bench_enroll.ratio(en, k, "rss"))])
    add(_table(["process", "CPU s", "wall s", "peak RSS MiB", "CPU ÷ pipeline", "wall ÷ pipeline",
                "RSS ÷ pipeline"], rows))
    for k, msg in en["failures"].items():
        add("")
        add("Failed: %s: `%s`" % (bench_enroll.NAMES[k], msg))
    for n in en["notes"]:
        add("")
        add("Note: %s." % n)
    add("")

    # memory
    add("## Memory (MicroPython)")
    add("")
    if mem.get("ops"):
        add("Each operation in a fresh `micropython` process, modules as %s. *Smallest heap*: the "
            "smallest `-X heapsize` at which it completes, code included. *Working set*: the smallest "
            "clean block it completes in once its modules are loaded and its inputs read (the rest of "
            "the heap filled with ballast) — what a board with frozen modules needs beyond its code. "
            "Both in KiB, bisected, then the smallest size from which six consecutive sizes 1 KiB "
            "apart all complete (fragmentation makes success non-monotonic; with random keys a repeat "
            "can land a few KiB either side). Keys are loaded from PKCS#8 DER inside the operation. "
            "The first ECDSA use builds the fixed-base table, which stays resident. The TLS library of this unix port "
            "allocates outside the GC heap (on rp2/stm32 add about 40 KiB during a handshake). "
            "CPython column: tracemalloc peak of the same operation." % mem.get("code_from", ".mpy"))
        add("")
        rows = []
        for r in mem["ops"]:
            rows.append([r["label"], _kib(r["code"]), r["heap_kib"] or "–", r["work_kib"] or "–",
                         _kib(r["cpython_peak"])])
        add(_table(["operation", "code + inputs, KiB", "smallest heap, KiB", "working set, KiB",
                    "CPython peak, KiB"], rows))
        enroll = [r for r in mem["ops"] if r["op"] == "enroll" and r.get("modules")]
        if enroll:
            add("")
            add("Every operation's modules are found by a first run and imported before measuring. "
                "The enrollment loads: %s." % ", ".join("`%s`" % m for m in enroll[0]["modules"].split(",")))
    if mem.get("error"):
        add("")
        add("Note: %s." % mem["error"])
    add("")

    # device fit
    fit = res.get("fit") or {"rows": []}
    add("## Device fit: before and after")
    add("")
    add("`-X heapsize` (KiB) with which the device path completes against the dev server "
        "over real TLS, the library imported from `.mpy` as a `mip` install leaves it "
        "(bench/bench_fit.py: *full* is /cacerts, /simpleenroll with a password and /simplereenroll "
        "with a new key; *renew* is /simplereenroll alone from the store). *Now* is the heap from "
        "which every larger heap completed (2 KiB steps), the worst of three dev-server instances; "
        "*lowest* the smallest that completed once (below *now*, a TLS handshake may fail on "
        "fragmentation). *Before* is the tree before the device-fit work (commit 793eae8), "
        "bisected.")
    add("")
    rows = []
    for r in fit["rows"]:
        key = (r["interpreter"], r["op"])
        rows.append([r["interpreter"], r["op"], FIT_BEFORE.get(key, "–"),
                     "–" if r["kib"] is None else r["kib"],
                     "–" if r.get("lowest") is None else r["lowest"], FIT_BUDGET.get(key, "–")])
    add(_table(["board model", "path", "before", "now", "lowest", "budget"], rows,
               ["l", "l", "r", "r", "r", "r"]))
    mods = res["size"]["modules"]
    now_core = _group_total(mods, ("core",))
    now_all = _group_total(mods, ("core", "lazy", "crypto"))
    add("")
    add(".mpy: device path %.1f KiB before, %.1f KiB now (budget 32); all a board may load %.1f KiB "
        "before, %.1f KiB now (budget 56)." % (MPY_BEFORE["device path"], now_core,
                                               MPY_BEFORE["all a board may load"], now_all))
    if fit.get("error"):
        add("")
        add("Note: %s." % fit["error"])
    add("")

    # RP2040
    rp2 = res.get("rp2") or {"table": None, "error": "not measured"}
    add("## RP2040 (emulated) beside the unix port")
    add("")
    add("bench/bench_rp2.py: MicroPython's own RP2040 firmware in rp2040js with its deterministic cycle "
        "counter (ms at 125 MHz; flash-cache misses are not modelled, so silicon can be somewhat slower), "
        "the library as .mpy in its LittleFS flash, the device path imported; beside it the 32-bit unix "
        "port on this machine with the same GC heap. Budgets (tests/rp2): warm P-256 sign 250 ms, "
        "P-256 verify 700 ms, the whole offline enrollment 1.5 s, 160 KiB free after it.")
    add("")
    if rp2.get("table"):
        add("```")
        add(rp2["table"])
        add("```")
    else:
        add("Not measured: %s." % rp2.get("error"))
    add("")

    # size
    add("## Size")
    add("")
    add("`.mpy` bytes per module (port_micropython/build.py, mpy-cross, bytecode), in the groups "
        "build.py defines:")
    add("")
    mods = res["size"]["modules"]
    present = [g for g in GROUP_TEXT if any(m["group"] == g[0] for m in mods)]
    for g, text, _ in present:
        add("- *%s*: %s — %.1f KiB" % (g, text, _group_total(mods, (g,))))
    add("")
    rows = [[mo["name"], mo["py"], mo["mpy"], mo["group"]] for mo in mods]
    total_py = sum(mo["py"] for mo in mods)
    total = sum(mo["mpy"] for mo in mods)
    rows.append(["**total**", total_py, "**%d** (%.1f KiB)" % (total, total / 1024), ""])
    add(_table(["module", ".py bytes", ".mpy bytes", "group"], rows, ["l", "r", "r", "l"]))
    add("")

    # scaling
    add("## Scaling")
    add("")
    lo_n, hi_n = sc["sizes"][0], sc["sizes"][-1]
    add("PKCS#7 certs-only messages of N certificates (%.0f bytes each on average: RSA-2048 keys and "
        "the extensions a public CA puts in). `certificates()` slices the input; `load()` also parses "
        "each certificate. Times in microseconds, median of the repetitions. Memory: tracemalloc peak on "
        "CPython; on MicroPython every byte allocated during the call with the collector disabled (an "
        "upper bound of the live peak). A copy of the certificates would cost at least the input's size; "
        "the last row is the cost of one more certificate (from N = %s to %s)."
        % (sc["cert_bytes"], lo_n, hi_n))
    add("")
    rows = []
    mp = sc["mp"] or {"p7": {}}
    for n in sc["sizes"]:
        c = sc["cpy"]["p7"][str(n)]
        mm = mp["p7"].get(str(n), {})

        def us(v):
            return "–" if v is None else "%.0f" % (v * 1e6)

        rows.append([n, c["bytes"], us(c["certs_s"]), us(c["load_s"]), us(c["crypto_s"]),
                     us(mm.get("certs_s")), us(mm.get("load_s")), c["certs_alloc"],
                     mm.get("certs_alloc", "–"), mm.get("load_alloc", "–")])
    lo, hi = str(sc["sizes"][0]), str(sc["sizes"][-1])
    span = sc["sizes"][-1] - sc["sizes"][0]

    def slope(table, field, scale=1.0, fmt="%.0f"):
        a, b = table.get(lo, {}).get(field), table.get(hi, {}).get(field)
        return "–" if a is None or b is None else fmt % ((b - a) * scale / span)

    cp = sc["cpy"]["p7"]
    mq = mp["p7"]
    rows.append(["**per added certificate**", slope(cp, "bytes"), slope(cp, "certs_s", 1e6, "%.1f"),
                 slope(cp, "load_s", 1e6), slope(cp, "crypto_s", 1e6), slope(mq, "certs_s", 1e6, "%.1f"),
                 slope(mq, "load_s", 1e6), slope(cp, "certs_alloc"), slope(mq, "certs_alloc"),
                 slope(mq, "load_alloc")])
    add(_table(["N", "input bytes", "CPython certificates() µs", "CPython load() µs",
                "cryptography load µs", "MicroPython certificates() µs", "MicroPython load() µs",
                "CPython certificates() peak B", "MicroPython certificates() alloc B",
                "MicroPython load() alloc B"], rows))
    add("")
    rows = []
    for name, w in (("CPython", sc["cpy"]["walk"]), ("MicroPython", mp.get("walk"))):
        if w:
            rows.append([name, w["bytes"], w["elements"], "%.2f" % (w["bytes"] / w["s"] / 1e6),
                         "%.0f" % (w["elements"] / w["s"] / 1e3),
                         w["alloc"] if "alloc" in w else "–"])
    add("DER reader throughput: a SEQUENCE of certificates walked to its last element with "
        "`der.Reader` (every constructed element entered, every primitive read as a slice).")
    add("")
    add(_table(["runtime", "bytes", "elements", "MB/s", "k elements/s", "peak B (tracemalloc)"], rows))
    if sc.get("mp_error"):
        add("")
        add("Not measured on MicroPython: `%s`" % sc["mp_error"])
    add("")
    return "\n".join(lines)


# ---------------------------------------------------------------- chart


def chart(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(18, 10.5))
    m = res["machine"]
    fig.suptitle("tinyest benchmarks — %s, %s cores, %s, %s" % (
        m["cpu"], m["cores"].split()[0], m["python"], m["date"]), fontsize=13)

    # (a) signatures
    ax = axes[0][0]
    ops = [(label, key) for label, key, _ in SIG_OPS if key in HEADLINE_SIG]
    h = 0.2
    for i, (lib, name) in enumerate(LIBS):
        ys, xs = [], []
        for j, (_, key) in enumerate(ops):
            v = res["signatures"]["ops"][key][lib]
            if v:
                ys.append(j + (i - 1.5) * h)
                xs.append(v)
        ax.barh(ys, xs, height=h, label=name, color=COLORS[lib])
        for y, x in zip(ys, xs):
            ax.text(x * 1.08, y, _ms(x), va="center", fontsize=7)
    ax.set_yticks(range(len(ops)))
    ax.set_yticklabels([lab for lab, _ in ops])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per operation (median, log scale)")
    ax.set_title("Signatures")
    ax.set_xlim(right=ax.get_xlim()[1] * 4)
    ax.legend(fontsize=8, loc="upper right")

    # (b) enrollment
    ax = axes[0][1]
    en = res["enrollment"]["rows"]
    import bench_enroll

    keys = [k for k in ("mp", "cpy", "pipeline") if k in en and en[k]["n"]]
    labels = [bench_enroll.NAMES[k].replace(", ", "\n").replace(" pipeline", "\npipeline") for k in keys]
    for off, field, hatch, name in ((-0.2, "cpu", None, "CPU s"), (0.2, "wall", "//", "wall s")):
        for i, k in enumerate(keys):
            lo, med, hi = en[k][field]
            ax.bar(i + off, med, width=0.38, color=COLORS[k], hatch=hatch, edgecolor="white",
                   yerr=[[med - lo], [hi - med]], capsize=3, label=name if i == 0 else None)
            ax.text(i + off, hi, "%.3f" % med, ha="center", va="bottom", fontsize=8)
    starts = [en.get(k) for k in ("mp_start", "cpy_start")]
    for k, s in (("mp", starts[0]), ("cpy", starts[1])):
        if s and s["n"] and k in keys:
            i = keys.index(k)
            ax.hlines(s["cpu"][1], i - 0.4, i, colors="black", linestyles=":")
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels(labels, fontsize=9)
    ax.set_ylabel("seconds per enrollment (median, min–max bars)")
    ax.set_title("Enrollment, whole process (keygen + CSR + TLS + /simpleenroll + verify)")
    for i, k in enumerate(keys):
        r = en[k]["rss"][1]
        if r:
            ax.text(i, -0.13, "peak RSS %.1f MiB" % (r / 1024), ha="center", va="top", fontsize=8,
                    transform=ax.get_xaxis_transform())
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D

    ax.legend(handles=[Patch(facecolor="#bbbbbb", label="CPU s"),
                       Patch(facecolor="#bbbbbb", hatch="//", edgecolor="white", label="wall s"),
                       Line2D([0], [0], color="black", linestyle=":", label="CPU of `-c pass`")],
              fontsize=8, loc="upper right")
    ax.set_ylim(top=ax.get_ylim()[1] * 1.12)

    # (c) memory
    ax = axes[0][2]
    mem = res["memory"].get("ops", [])
    if mem:
        rows = [r for r in mem]
        ys = range(len(rows))
        code = [(r["code"] or 0) / 1024 for r in rows]
        work = [r["work_kib"] or 0 for r in rows]
        heap = [r["heap_kib"] or 0 for r in rows]
        ax.barh(ys, code, color="#c6dbef", label="code + inputs")
        ax.barh(ys, work, left=code, color="#1f77b4", label="working set")
        ax.scatter(heap, ys, marker="|", s=200, color="black", label="smallest heap", zorder=3)
        for y, w, hp in zip(ys, work, heap):
            ax.text(hp + 4, y, ("%s / %s KiB" % (w, hp)) if w else "heap %s KiB" % hp, va="center",
                    fontsize=8)
        ax.set_yticks(list(ys))
        ax.set_yticklabels([r["label"] for r in rows], fontsize=9)
        ax.invert_yaxis()
        ax.set_xlabel("KiB of GC heap (labels: working set / smallest heap)")
        ax.set_xlim(right=max(heap) * 1.4)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3)
    ax.set_title("Memory under MicroPython, modules as .mpy")

    # (d) size
    ax = axes[1][0]
    mods = sorted(res["size"]["modules"], key=lambda mo: -mo["mpy"])
    colors = {g: c for g, _, c in GROUP_TEXT}
    ax.barh(range(len(mods)), [mo["mpy"] / 1024 for mo in mods],
            color=[colors.get(mo["group"], "#999999") for mo in mods])
    for i, mo in enumerate(mods):
        ax.text(mo["mpy"] / 1024 + 0.2, i, "%.1f" % (mo["mpy"] / 1024), va="center", fontsize=8)
    ax.set_yticks(range(len(mods)))
    ax.set_yticklabels([mo["name"].replace(".py", "") for mo in mods], fontsize=8 if len(mods) > 18 else 9)
    ax.invert_yaxis()
    ax.set_xlim(right=max(mo["mpy"] for mo in mods) / 1024 * 1.12)
    from matplotlib.patches import Patch

    groups = [g for g, _, _ in GROUP_TEXT if any(mo["group"] == g for mo in mods)]
    ax.legend(handles=[Patch(facecolor=colors[g], label="%s %.1f KiB" % (g, _group_total(mods, (g,))))
                       for g in groups], fontsize=8, loc="lower right")
    ax.set_xlabel(".mpy KiB")
    ax.set_title(".mpy size per module: %.1f KiB in all" % (sum(mo["mpy"] for mo in mods) / 1024))

    # (e) scaling time
    sc = res["scaling"]
    ns = sc["sizes"]
    mp = sc["mp"] or {"p7": {}}
    ax = axes[1][1]
    series = [
        ("tinyest certificates(), MicroPython", [mp["p7"].get(str(n), {}).get("certs_s") for n in ns],
         COLORS["tiny-mp"], "-"),
        ("tinyest load(), MicroPython", [mp["p7"].get(str(n), {}).get("load_s") for n in ns],
         COLORS["tiny-mp"], "--"),
        ("tinyest certificates(), CPython", [sc["cpy"]["p7"][str(n)]["certs_s"] for n in ns],
         COLORS["tiny-cpy"], "-"),
        ("tinyest load(), CPython", [sc["cpy"]["p7"][str(n)]["load_s"] for n in ns], COLORS["tiny-cpy"],
         "--"),
        ("cryptography load_der_pkcs7_certificates", [sc["cpy"]["p7"][str(n)]["crypto_s"] for n in ns],
         COLORS["crypto"], "-."),
    ]
    for name, ys, color, style in series:
        pts = [(n, y * 1e6) for n, y in zip(ns, ys) if y]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", color=color, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.set_xlabel("certificates in the PKCS#7 message")
    ax.set_ylabel("microseconds (median)")
    ax.set_title("PKCS#7 parse time")
    ax.legend(fontsize=8)
    ax.grid(True, which="major", alpha=0.3)

    # (f) scaling memory
    ax = axes[1][2]
    series = [
        ("input size", [sc["cpy"]["p7"][str(n)]["bytes"] for n in ns], "black", ":"),
        ("certificates(), MicroPython (bytes allocated)",
         [mp["p7"].get(str(n), {}).get("certs_alloc") for n in ns], COLORS["tiny-mp"], "-"),
        ("certificates(), CPython (tracemalloc peak)", [sc["cpy"]["p7"][str(n)]["certs_alloc"] for n in ns],
         COLORS["tiny-cpy"], "-"),
        ("load(), MicroPython (bytes allocated)", [mp["p7"].get(str(n), {}).get("load_alloc") for n in ns],
         COLORS["tiny-mp"], "--"),
        ("load(), CPython (tracemalloc peak)", [sc["cpy"]["p7"][str(n)]["load_alloc"] for n in ns],
         COLORS["tiny-cpy"], "--"),
    ]
    for name, ys, color, style in series:
        pts = [(n, y) for n, y in zip(ns, ys) if y]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o" if style != ":" else None,
                    color=color, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(ns)
    ax.set_xticklabels([str(n) for n in ns])
    ax.set_xlabel("certificates in the PKCS#7 message")
    ax.set_ylabel("bytes")
    walk = ["%s %.1f MB/s" % (name, w["bytes"] / w["s"] / 1e6)
            for name, w in (("CPython", sc["cpy"]["walk"]), ("MicroPython", mp.get("walk"))) if w]
    ax.set_title("PKCS#7 parse memory")
    ax.legend(fontsize=8, loc="upper left")
    if walk:
        ax.text(0.98, 0.03, "DER reader walk:\n" + "\n".join(walk), transform=ax.transAxes, ha="right",
                va="bottom", fontsize=9, bbox={"facecolor": "white", "edgecolor": "#cccccc"})
    ax.grid(True, which="major", alpha=0.3)

    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="few repetitions; writes bench/out/ only, not docs/")
    ap.add_argument("--no-chart", action="store_true", help="skip the PNG (no matplotlib)")
    ap.add_argument("--from-json", metavar="PATH",
                    help="measure nothing: write the table and chart of a results.json to bench/out/")
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.from_json:
        with open(args.from_json) as f:
            res = json.load(f)
        for m in res["size"]["modules"]:  # results of an older run.py
            m.setdefault("group", "optional" if m.get("optional") else "core")
    else:
        res = run_all(args.quick)
        os.makedirs(OUT, exist_ok=True)
        with open(os.path.join(OUT, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
    dest = OUT if args.quick or args.from_json else DOCS
    os.makedirs(dest, exist_ok=True)
    png = None
    if not args.no_chart:
        try:
            png = os.path.join(dest, "benchmarks.png")
            chart(res, png)
        except ImportError:
            log("matplotlib not installed (pip install -e '.[bench]'): no chart")
            png = None
    md = markdown(res, png is not None)
    with open(os.path.join(dest, "benchmarks.md"), "w") as f:
        f.write(md)
    log("")
    log(main_table(res))
    log("")
    log("wrote %s%s; total %.0f s" % (os.path.join(dest, "benchmarks.md"),
                                      " and " + png if png else "", time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
