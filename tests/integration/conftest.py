"""Fixtures: a shared NSD, fresh NSDs for tests that stop theirs, and
anchord instances that are stopped (and checked) at the end of each test."""
import os
import shutil

import pytest

from harness import Anchord, Nsd, Relay, tmpdir, upstream


@pytest.fixture(scope="session")
def nsd():
    d = tmpdir("anchord-nsd-")
    server = Nsd(d).start()
    yield server
    server.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fresh_nsd(tmp_path):
    server = Nsd(str(tmp_path / "nsd")).start()
    yield server
    server.stop()


@pytest.fixture
def make_anchord(tmp_path):
    """make_anchord(upstreams, config_extra=..., ...) -> started Anchord."""
    started = []

    def make(upstreams, start=True, **kw):
        a = Anchord(str(tmp_path / f"anchord{len(started)}"), upstreams, **kw)
        started.append(a)
        return a.start() if start else a

    yield make
    for a in started:
        a.stop()


@pytest.fixture
def make_relay():
    relays = []

    def make(upstream_port, **kw):
        r = Relay(upstream_port, **kw)
        relays.append(r)
        return r

    yield make
    for r in relays:
        r.close()


@pytest.fixture
def resolver(nsd, make_anchord):
    """anchord forwarding to the shared NSD."""
    return make_anchord([upstream(nsd.port)])
