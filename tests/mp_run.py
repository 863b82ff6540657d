"""Runs the test_* functions of one core test module under MicroPython.

Usage: micropython tests/mp_run.py MODULE [FUNCTION ...]
Prints one line per test, `PASS name` or `FAIL name` followed by the traceback,
and exits 1 if any test failed. Needs MICROPYPATH to hold the repository root
and tests/core.
"""
import sys
import gc


def main():
    mod_name = sys.argv[1]
    wanted = sys.argv[2:]
    mod = __import__(mod_name)
    names = sorted([n for n in dir(mod) if n.startswith("test_")])
    if wanted:
        names = [n for n in names if n in wanted]
    failed = 0
    for name in names:
        fn = getattr(mod, name)
        gc.collect()
        try:
            fn()
        except Exception as e:
            failed += 1
            print("FAIL " + name)
            sys.print_exception(e)
            print("END " + name)
        else:
            print("PASS " + name)
    print("RAN %d FAILED %d" % (len(names), failed))
    sys.exit(1 if failed else 0)


main()
