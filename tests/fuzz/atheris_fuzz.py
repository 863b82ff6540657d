"""Coverage-guided fuzzing of one parser with atheris (CPython only, not part of CI).

    pip install atheris
    python3 tests/fuzz/atheris_fuzz.py TARGET [--stop] [--work DIR] [libFuzzer options]
    python3 tests/fuzz/atheris_fuzz.py x509 -max_total_time=600
    python3 tests/fuzz/atheris_fuzz.py --list

TARGET is a name of tests/fuzz/harness.py's TARGETS (the input format of each
is described there). The committed corpus tests/fuzz/corpus/TARGET/ seeds the
run; new inputs go to DIR/corpus (default /tmp/tinyest-fuzz/TARGET), never into
the committed corpus.

A finding is any exception from the harness that is not a tinyest EstError
(IndexError, TypeError, RecursionError, a failed round trip...), or an input
that takes longer than 2 s. By default the run keeps going: each finding is
written once per (exception type, innermost tinyest line) to
DIR/findings/<Type>-<file>-<line>.bin and listed at the end. With --stop,
libFuzzer stops at the first one and writes its usual crash-* file. A real
hang is caught by libFuzzer's -timeout (10 s here unless given).

Triage: reproduce with
    python3 tests/fuzz/atheris_fuzz.py TARGET --repro FILE
then minimise (libFuzzer's -minimize_crash=1 with --stop, or by hand), report
it, and commit the input as tests/fuzz/corpus/TARGET/crash-<name>.bin so that
tests/core/test_fuzz_corpus.py keeps it fixed on both runtimes.
"""

import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

SLOW_S = 2.0


def _where(e):
    """(file, line) of the innermost tinyest frame of an exception's traceback."""
    where = ("harness", 0)
    for fr in traceback.extract_tb(e.__traceback__):
        if os.sep + "tinyest" + os.sep in fr.filename:
            where = (os.path.basename(fr.filename)[:-3], fr.lineno)
    return where


def main(argv):
    args = argv[1:]
    if args and args[0] == "--list":
        import harness
        print(" ".join(n for n, _ in harness.TARGETS))
        return 0
    if not args:
        print(__doc__)
        return 2
    target = args.pop(0)
    stop = "--stop" in args
    if stop:
        args.remove("--stop")
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "tinyest-fuzz", target)
    if "--work" in args:
        i = args.index("--work")
        work = args[i + 1]
        del args[i:i + 2]
    repro = None
    if "--repro" in args:
        i = args.index("--repro")
        repro = args[i + 1]
        del args[i:i + 2]

    if repro:
        import harness
        with open(repro, "rb") as f:
            data = f.read()
        t0 = time.monotonic()
        try:
            print(harness.run(target, data))
        finally:
            print("%.3f s" % (time.monotonic() - t0))
        return 0

    import atheris

    with atheris.instrument_imports(include=["tinyest", "harness"]):
        import harness
    harness.target(target)  # unknown names fail here

    corpus = os.path.join(work, "corpus")
    findings = os.path.join(work, "findings")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(findings, exist_ok=True)
    seen = {}

    def save(name, data, msg):
        if name in seen:
            seen[name][0] += 1
            return
        seen[name] = [1, msg]
        with open(os.path.join(findings, name + ".bin"), "wb") as f:
            f.write(data)
        sys.stderr.write("\nFINDING %s: %s\n" % (name, msg))

    def one(data):
        t0 = time.monotonic()
        try:
            harness.run(target, data)
        except Exception as e:
            if stop:
                raise
            f, line = _where(e)
            kind = type(e).__name__
            if isinstance(e, harness.Violation):  # one per property, not per line
                kind += "-" + "".join(c if c.isalnum() else "_" for c in str(e).split(":")[0])[:40]
            save("%s-%s-%d" % (kind, f, line), data, "%s: %s" % (type(e).__name__, str(e)[:200]))
        dt = time.monotonic() - t0
        if dt > SLOW_S:
            save("slow-%d" % len(seen), data, "took %.1f s" % dt)

    opts = [a for a in args]
    if not any(a.startswith("-timeout=") for a in opts):
        opts.append("-timeout=10")
    if not any(a.startswith("-max_len=") for a in opts):
        opts.append("-max_len=8192")
    seeds = os.path.join(HERE, "corpus", target)
    atheris.Setup([argv[0]] + opts + [corpus, seeds], one)
    try:
        atheris.Fuzz()
    finally:
        _report(seen)
    return 0


def _report(seen):
    for name in sorted(seen):
        sys.stderr.write("%-50s x%d  %s\n" % (name, seen[name][0], seen[name][1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
