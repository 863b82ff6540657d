"""The fixtures the provisioning tests share (test_provision_host.py and
test_provision_faults_host.py import them): a pty relay, simulated devices on
it, the trust-anchor file, and the ledger's rows."""

import pathlib
import sqlite3
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from provision_sim import Relay, SimDevice  # noqa: E402


@pytest.fixture(scope="module")
def relay():
    r = Relay()
    yield r
    r.stop()


@pytest.fixture
def devices(tmp_path, relay):
    made = []

    def make(dev_id="dev-0001", **kw):
        kw.setdefault("relay", relay)
        d = SimDevice(tmp_path / dev_id, dev_id, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture
def ta(tmp_path, server):
    p = tmp_path / "ta.der"
    p.write_bytes(server.ca_der)
    return str(p)


def ledger_rows(path):
    """Every row of a provisioning ledger (SQLite), oldest first, as dicts."""
    db = sqlite3.connect(str(path))
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM provisioning ORDER BY id")]
    db.close()
    return rows
