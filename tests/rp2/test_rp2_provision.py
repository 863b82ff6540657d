"""``tinyest-provision`` against the emulated Pico over its USB serial pty.

Both ways the tool writes a board: through the provisioning agent
(port_micropython/provision_agent.py, copied to the board as /lib/provision_agent.mpy
and started by the tool through the raw REPL), and through the raw REPL alone
(a board without the agent). After each, the store read on the board (and again
after a reboot from the same flash) holds what was written.

Then provisionings interrupted by stopping the emulator inside the transfer:
the board holds set A (provisioned through the agent), the tool writes set B
(--force) through a pty relay that watches the frames / raw REPL code going to
the board, and the emulator is stopped (SIGTERM: the flash as it is at that
instant; SIGKILL: the flash file as the emulator last saved it, a few hundred
ms after its last write) at a point of the transfer. A reboot from the same
flash file must find set A or set B, whole; where the kill point decides it
(before any commit, after the commit was answered) exactly that one. The tool's
exit code must agree with what the board holds.

The tool runs as a subprocess (``python -m host_tools.provision``), as on a
factory station; no EST server is contacted (password credentials).
"""
import os
import pathlib
import signal
import struct
import subprocess
import sys
import time

import pytest

from host_tools.exitcodes import EXIT_DEVICE, EXIT_LINK, EXIT_UNKNOWN

import pico
import pki

ROOT = pathlib.Path(__file__).resolve().parents[2]

# agent frame commands (provision_agent.py: request payload = command octet, arguments)
PUT, COMMIT, READBACK = 0x04, 0x08, 0x09
T_REQ = 0x51


class CredSet:
    def __init__(self, name, host, port, label, user, password, tas):
        self.name = name
        self.host, self.port, self.label = host, port, label
        self.user, self.password = user, password
        self.tas = tas

    @property
    def url(self):
        return "https://%s:%d" % (self.host, self.port)

    def matches(self, snap):
        """Does the store snapshot (see _SNAP) hold exactly this set?"""
        gen, config, trust, user, password, key, chain = snap
        return (config.get("host") == self.host and config.get("port") == self.port
                and config.get("label") == self.label and [bytes.fromhex(t) for t in trust] == self.tas
                and user == self.user and password == self.password and key is None and chain == [])


_SNAP = """
import binascii
from tinyest.store import Store
c = Store('/est').load()
h = lambda b: binascii.hexlify(b).decode()
print(repr((c.generation, c.config, [h(x) for x in c.trust], c.boot_user, c.boot_password,
            None if c.key_der is None else h(c.key_der), [h(x) for x in c.chain])))
"""


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    d = tmp_path_factory.mktemp("rp2-sets")
    a_root = pki.Ca("provisioning root A")
    b_root, b_second = pki.Ca("provisioning root B"), pki.Ca("provisioning root B2")
    a = CredSet("A", "est-a.example", 8443, "a", "alpha", "pw-alpha-1", [a_root.der])
    b = CredSet("B", "est-b.example", 9443, "b", "bravo", "pw-bravo-2", [b_root.der, b_second.der])
    for s in (a, b):  # PEM: a file of several certificates
        s.ta_file = d / ("ta-%s.pem" % s.name)
        s.ta_file.write_text("".join(pki.pem(t) for t in s.tas))
    return a, b


def _argv(port, s, mode="auto", *extra):
    return ["--port", str(port), "--server", s.url, "--label", s.label, "--ta", str(s.ta_file),
            "--user", s.user, "--password", s.password, "--store", "/est", "--mode", mode] + list(extra)


def _tool(argv, **kw):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "host_tools.provision"] + argv, cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _run_tool(argv, timeout=180):
    proc = _tool(argv)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail("tinyest-provision did not finish in %d s:\n%s\n%s" % (timeout, out, err))
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def agent_image(new_flash, rp2_mpy):
    """The library image plus the provisioning agent in /lib."""
    flash = new_flash("agent")
    mpy = rp2_mpy / "provision_agent.mpy"
    pico.mpy_cross(ROOT / "port_micropython" / "provision_agent.py", mpy)
    with pico.Pico(flash) as p:
        p.put("/lib/provision_agent.mpy", mpy.read_bytes())
        assert p.value("import provision_agent\nprint(repr(provision_agent.AGENT_VERSION))")
    return flash


@pytest.fixture(scope="module")
def provisioned_a(agent_image, new_flash, sets):
    """Set A written through the agent: (flash image, tool output, snapshots
    before and after a reboot, seconds)."""
    a, _ = sets
    flash = new_flash("provisioned-a", agent_image)
    with pico.Pico(flash) as p:
        p.release()
        t = time.monotonic()
        rc, out, err = _run_tool(_argv(p.link, a))
        took = time.monotonic() - t
        p.attach()
        snap = p.value(_SNAP)
        p.reboot()
        snap_reboot = p.value(_SNAP)
    return {"flash": flash, "rc": rc, "out": out, "err": err, "snap": snap, "snap_reboot": snap_reboot,
            "seconds": took}


def _check_written(s, snap, out):
    assert s.matches(snap), snap
    config = snap[1]
    extra = sorted(set(config) - {"host", "port", "label"})
    if extra:
        pico.figure("provision", "config the tool added beyond host/port/label", repr({k: config[k] for k in extra}))


def test_provision_through_the_agent(provisioned_a, sets):
    a, _ = sets
    r = provisioned_a
    assert r["rc"] == 0, r["out"] + r["err"]
    assert "agent" in r["out"] and "micropython 1.28.0 (rp2)" in r["out"], r["out"]
    _check_written(a, r["snap"], r["out"])
    assert r["snap_reboot"] == r["snap"]
    assert r["snap"][0] >= 1
    pico.figure("provision", "agent: provisioned in", "%.1f s host time (%s)"
                % (r["seconds"], r["out"].strip().splitlines()[-1].strip()))


def test_provision_through_the_raw_repl(new_flash, sets):
    """A board without the agent: the tool falls back to the raw REPL (--mode auto)."""
    a, _ = sets
    with pico.Pico(new_flash("raw-repl")) as p:
        p.release()
        t = time.monotonic()
        rc, out, err = _run_tool(_argv(p.link, a))
        took = time.monotonic() - t
        assert rc == 0, out + err
        assert "raw REPL" in out, out
        p.attach()
        snap = p.value(_SNAP)
        _check_written(a, snap, out)
        p.reboot()
        assert p.value(_SNAP) == snap
    pico.figure("provision", "raw REPL: provisioned in", "%.1f s host time" % took)


# ---------------------------------------------------------------- interrupted


def _requests(wire):
    """[(seq, command)] of the agent request frames in host->device octets."""
    out = []
    for chunk in bytes(wire).split(b"\x7e"):
        body = bytearray()
        it = iter(chunk)
        for b in it:
            if b == 0x7D:
                b = next(it, 0x20) ^ 0x20
            body.append(b)
        if len(body) >= 10 and body[0] == T_REQ:
            seq, n = struct.unpack(">HH", bytes(body[1:5]))
            if n >= 1 and len(body) >= 5 + n:
                out.append((seq, body[5]))
    return out


def _distinct(reqs, cmd):
    return len({seq for seq, c in reqs if c == cmd})


# Seconds the tool gets after the kill to give its verdict; then it is stopped and its
# verdict is "none". Killed inside an acknowledged COMMIT it waits 8 x --timeout for the
# answer, longer than is worth waiting here.
TOOL_GRACE = 12.0
TOOL_GRACE_IN_COMMIT = 3.0

# (id, mode, signal, point, flash operations after the point, must hold)
CASES = [
    ("agent-put-sigterm", "agent", signal.SIGTERM, "put", 0, "A"),
    ("agent-commit-sigterm-1", "agent", signal.SIGTERM, "commit", 1, None),
    ("agent-commit-sigterm-4", "agent", signal.SIGTERM, "commit", 4, None),
    ("agent-commit-sigkill-2", "agent", signal.SIGKILL, "commit", 2, None),
    ("agent-readback-sigterm", "agent", signal.SIGTERM, "readback", 0, "B"),
    ("repl-write-sigterm-1", "repl", signal.SIGTERM, "write", 1, None),
    ("repl-rename-sigkill", "repl", signal.SIGKILL, "rename", 0, None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_provisioning_interrupted_leaves_old_or_new(case, provisioned_a, new_flash, sets):
    name, mode, sig, point, after, must = case
    a, b = sets
    assert provisioned_a["rc"] == 0
    for attempt in range(2):
        flash = new_flash(name, provisioned_a["flash"])
        res = _interrupt(flash, b, mode, sig, point, after)
        if res != "torn":
            break
        pico.figure("provision", name, "the emulator was killed while saving its flash file: run again")
    else:
        pytest.fail("the flash file was torn twice by SIGKILL")
    snap, ops, rc, err = res
    held = "A" if a.matches(snap) else "B" if b.matches(snap) else None
    pico.figure("provision", name, "board holds set %s (generation %d); flash erase+program calls during "
                "the run: %s; tool exit %s%s" % (held, snap[0], ops, "none (still waiting)" if rc is None else rc,
                                                  (" (%s)" % err) if err else ""))
    assert held is not None, "neither the old nor the new set: %r" % (snap,)
    if must:
        assert held == must
    # the tool's verdict agrees with the board
    if rc == 0:
        assert held == "B"
    elif rc == EXIT_LINK:  # "nothing was committed"
        assert held == "A"
    elif rc is not None:
        assert rc in (EXIT_DEVICE, EXIT_UNKNOWN), (rc, err)


def _interrupt(flash, b, mode, sig, point, after):
    """Boot, run the tool writing set B through a tap, stop the emulator with
    ``sig`` at the point; reboot from the same flash and read the store.
    Returns (snapshot, flash erase + program calls from the tool's start to
    the stop (SIGTERM only), tool exit code or None,
    last error line), or "torn" when SIGKILL cut the emulator's own save."""
    p = pico.Pico(flash)
    tool = None
    try:
        p.release()
        with pico.Tap(p) as tap:
            start = p.flash_ops()
            tool = _tool(_argv(tap.path, b, mode, "--force", "--attempts", "1", "--timeout", "4"))
            base = start if point == "write" else None  # flash writes counted from here
            end = time.monotonic() + 120
            while True:
                if time.monotonic() > end:
                    pytest.fail("the kill point was not reached:\n%s" % (tap.h2d[-400:],))
                if tool.poll() is not None:
                    out, err = tool.communicate()
                    pytest.fail("the tool ended (%s) before the kill point:\n%s\n%s" % (tool.returncode, out, err))
                reqs = _requests(tap.h2d) if mode == "agent" else None
                if point == "put" and _distinct(reqs, PUT) >= 1:
                    break
                if point == "readback" and _distinct(reqs, READBACK) >= 1:
                    break
                if point == "rename" and b"os.rename(" in tap.h2d:
                    break
                if point == "commit" and base is None and _distinct(reqs, COMMIT) >= 1:
                    base = p.flash_ops()
                if base is not None:
                    now = p.flash_ops()
                    if (now[1] + now[3]) - (base[1] + base[3]) >= after:
                        break
                time.sleep(0.01)
            p.stop(sig)
            killed = time.monotonic()
            final = p.stats if sig == signal.SIGTERM else None  # SIGTERM: counted up to the save
            ops = "?" if final is None else (final[1] + final[3]) - (start[1] + start[3])
            if os.path.getsize(flash) != 2 * 1024 * 1024:
                return "torn"
            # reboot from the same flash while the tool still waits for the old board
            p.start()
            snap = p.value(_SNAP)
            p.stop()
            try:
                grace = TOOL_GRACE_IN_COMMIT if point == "commit" else TOOL_GRACE
                tool.wait(max(1.0, grace - (time.monotonic() - killed)))
                rc = tool.returncode
            except subprocess.TimeoutExpired:
                tool.terminate()
                tool.wait(10)
                rc = None
            err = tool.stderr.read().strip().splitlines()
            err = err[0] if err else ""
        return snap, ops, rc, err
    finally:
        if tool is not None and tool.poll() is None:
            tool.kill()
            tool.wait()
        p.stop()
