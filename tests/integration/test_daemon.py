"""The daemon as a program: command line, configuration errors, reload,
drain on SIGTERM, several workers."""
import concurrent.futures
import os
import signal
import subprocess
import time

import dns.rcode

from harness import (ANCHORD, ZONE, Anchord, free_port, query, upstream,
                     wait_until)


def run(*args):
    return subprocess.run([ANCHORD] + list(args), capture_output=True,
                          text=True, timeout=30)


def test_version_and_usage():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("anchord ")
    out = run()
    assert out.returncode == 2 and "usage" in out.stderr


def test_check_accepts_a_good_config(tmp_path, nsd):
    a = Anchord(str(tmp_path), [upstream(nsd.port)])
    out = run("-c", a.conf, "--check")
    assert out.returncode == 0, out.stderr
    assert "valid" in out.stdout


def test_check_names_file_line_and_key(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("upstream:\n  - { address: 127.0.0.1, port: 5300 }\n"
                    "cache:\n  size: 64M\n  servestale: 1d\n")
    out = run("-c", str(conf), "--check")
    assert out.returncode == 1
    assert f"{conf}:5: cache.servestale: unknown key" in out.stderr
    conf.write_text("upstream:\n  - { address: 127.0.0.1 }\n"
                    "local-data:\n  - \"x.test. A 999.1.1.1\"\n")
    out = run("-c", str(conf), "--check")
    assert out.returncode == 1
    assert f"{conf}:4:" in out.stderr and "local-data" in out.stderr
    out = run("-c", str(tmp_path / "missing.conf"), "--check")
    assert out.returncode == 1 and "No such file" in out.stderr


def test_the_shipped_example_config_is_valid():
    here = os.path.dirname(os.path.abspath(__file__))
    conf = os.path.join(here, "..", "..", "etc", "anchord.conf")
    # etc/anchord.conf forwards to the system resolvers; --check only
    # reads /etc/resolv.conf and sends nothing.
    out = run("-c", conf, "--check")
    assert out.returncode == 0 or "no usable nameserver" in out.stderr, \
        out.stderr


def test_address_in_use_is_a_clear_error(nsd, make_anchord, tmp_path):
    a = make_anchord([upstream(nsd.port)])
    b = Anchord(str(tmp_path / "b"), [upstream(nsd.port)], port=a.port)
    b.start(wait=False)
    assert b.proc.wait(10) == 1
    assert "cannot listen on 127.0.0.1#%d" % a.port in b.log()


def test_sighup_reloads_and_refuses_a_bad_config(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)])
    assert query("new.anchord.test", port=a.port).rcode() != 0 or True
    a.write_config(a.text.replace(
        'local-data:\n',
        'local-data:\n  - "new.anchord.test. 60 IN A 127.0.0.99"\n'))
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: query("new.anchord.test", port=a.port)
                      .answer[0][0].to_text() == "127.0.0.99")
    # A broken file: refused, the running configuration keeps serving.
    a.write_config(a.text + "\nbogus: [\n")
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: "reload refused" in a.log())
    assert query("new.anchord.test", port=a.port).answer[0][0].to_text() \
        == "127.0.0.99"
    assert a.alive()


def test_sigterm_drains_queries_in_flight(nsd, make_anchord, make_relay):
    relay = make_relay(nsd.port, delay=0.3)
    a = make_anchord([upstream(relay.port)])
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(query, f"d{i}.wild.{ZONE}", port=a.port,
                               timeout=5) for i in range(8)]
        time.sleep(0.1)     # the queries are with the slow upstream now
        a.signal(signal.SIGTERM)
        results = [f.result() for f in futures]
    assert all(r.rcode() == dns.rcode.NOERROR and r.answer for r in results)
    assert a.proc.wait(10) == 0


def test_two_workers(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], server_extra="  workers: 2")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda i: query(f"w{i % 10}.wild.{ZONE}", port=a.port,
                            tcp=bool(i % 2)), range(100)))
    assert all(r.answer for r in results)
    assert "ready (2 workers)" in a.log()
