"""Packaging: make install into a temporary tree that runs, the systemd
unit that systemd-analyze accepts, man pages that render without
warnings, and example configurations that anchord accepts.

Everything stays on loopback: --check sends nothing, and the installed
daemon answers a local name without forwarding."""
import glob
import os
import shutil
import subprocess

import pytest

from harness import ANCHORD, LOCALHOST, SANITIZE, free_port, query, \
    stop_process, wait_until

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.path.dirname(ANCHORD)
EXAMPLES = sorted(glob.glob(os.path.join(TOP, "etc", "examples", "*.conf")))
MAN_PAGES = sorted(glob.glob(os.path.join(TOP, "man", "*.[158]")))


def make_install(*args):
    cmd = ["make", "-s", "--no-print-directory", "-C", TOP, "install",
           f"BUILD={BUILD}"] + (["SANITIZE=1"] if SANITIZE else []) + \
        list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("destdir"))
    make_install(f"DESTDIR={d}", "prefix=/usr/local")
    return d


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_config_checks(path):
    out = subprocess.run([ANCHORD, "-c", path, "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "configuration is valid" in out.stdout


def test_there_are_three_examples():
    assert [os.path.basename(p) for p in EXAMPLES] == \
        ["enterprise.conf", "iot-gateway.conf", "small-office.conf"]


@pytest.mark.parametrize("page", MAN_PAGES, ids=os.path.basename)
def test_man_page_renders_without_warnings(page):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    out = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0
    assert out.stderr.strip() == "", out.stderr
    assert len(out.stdout) > 500


def test_destdir_tree(destdir):
    root = os.path.join(destdir, "usr", "local")
    for rel in ("sbin/anchord", "sbin/anchorctl", "bin/anchor-enroll",
                "share/man/man1/anchor-enroll.1",
                "share/man/man5/anchord.conf.5", "share/man/man8/anchord.8",
                "share/man/man8/anchorctl.8", "etc/anchord/root.key",
                "etc/anchord/anchord.conf.example",
                "etc/anchord/examples/enterprise.conf",
                "lib/systemd/system/anchord.service",
                "lib/sysusers.d/anchord.conf", "lib/tmpfiles.d/anchord.conf",
                "etc/logrotate.d/anchord"):
        assert os.path.isfile(os.path.join(root, rel)), rel
    for exe in ("sbin/anchord", "sbin/anchorctl", "bin/anchor-enroll"):
        assert os.access(os.path.join(root, exe), os.X_OK), exe
    with open(os.path.join(root, "lib/systemd/system/anchord.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/local/sbin/anchord -c " \
           "/usr/local/etc/anchord/anchord.conf\n" in unit
    assert "@" not in unit.replace("@system-service", "")


def test_installed_examples_check(destdir):
    """The examples find root.key where make install put it."""
    etc = os.path.join(destdir, "usr", "local", "etc", "anchord")
    anchord = os.path.join(destdir, "usr", "local", "sbin", "anchord")
    for conf in glob.glob(os.path.join(etc, "examples", "*.conf")):
        out = subprocess.run([anchord, "-c", conf, "--check"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr


def test_installed_anchord_serves(destdir, tmp_path):
    root = os.path.join(destdir, "usr", "local")
    anchord = os.path.join(root, "sbin", "anchord")
    port = free_port()
    conf = tmp_path / "anchord.conf"
    conf.write_text(f"""server: {{ name: dns.anchord.test, state-dir: {tmp_path}/state }}
listen: [ {{ address: {LOCALHOST}, port: {port}, kind: dns }} ]
upstream: [ {{ address: {LOCALHOST}, port: {free_port()} }} ]
dnssec: {{ validation: true, trust-anchors: [ {root}/etc/anchord/root.key ] }}
local-data: [ "installed.anchord.test. 300 IN A 127.0.0.99" ]
""")
    check = subprocess.run([anchord, "-c", str(conf), "--check"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    log = open(tmp_path / "anchord.log", "wb")
    proc = subprocess.Popen([anchord, "-c", str(conf)], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: query("installed.anchord.test", port=port,
                                        timeout=0.3).answer, timeout=30)
        r = query("installed.anchord.test", port=port)
        assert r.answer[0][0].address == "127.0.0.99"
    finally:
        assert stop_process(proc, timeout=30) == 0
        log.close()


@pytest.mark.skipif(not shutil.which("systemd-analyze"),
                    reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path):
    """Installed for real under a temporary prefix, so that ExecStart names
    a binary that exists and Documentation= man pages that man finds."""
    prefix = str(tmp_path / "prefix")
    make_install(f"prefix={prefix}")
    unit = os.path.join(prefix, "lib", "systemd", "system", "anchord.service")
    env = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man"))
    out = subprocess.run(["systemd-analyze", "verify", unit],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stderr.strip() == "", out.stderr
