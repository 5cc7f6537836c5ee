"""DANE: a DoT upstream authenticated by TLSA records that anchord's own
validator finds secure (RFC 7671, RFC 8310 8.2), and tls.publish-tlsa.

anchord A serves DoT with a certificate issued by a small CA of the test;
its TLSA records sit in the signed zone signed.test. (NSD), under several
names: one with A's key (DANE-EE), one with a wrong digest, one naming
the CA (DANE-TA), none at all. Stubs forward to A over DoT with dane: true
and one of those names, and trust signed.test.'s key."""
import base64
import hashlib
import os
import subprocess

import dns.message
import dns.flags
import dns.rcode
import pytest

from harness import ZONE, Nsd, ede_of, free_port, query, upstream, wait_until
from signedzones import PARENT, SignedZones


def certtool(*args, cwd):
    subprocess.run(["certtool"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def make_chain(workdir):
    """A CA and a server certificate for ta.signed.test (the file holds the
    server certificate, then the CA), and their DANE digests."""
    def tmpl(name, text):
        with open(os.path.join(workdir, name), "w") as f:
            f.write(text)
    tmpl("ca.tmpl", 'cn = "DANE test CA"\nca\ncert_signing_key\n'
                    'expiration_days = 30\n')
    tmpl("srv.tmpl", f'cn = "ta.{PARENT[:-1]}"\ndns_name = "ta.{PARENT[:-1]}"\n'
                     'tls_www_server\nsigning_key\nexpiration_days = 30\n')
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", "ca.key",
             cwd=workdir)
    certtool("--generate-self-signed", "--load-privkey", "ca.key",
             "--template", "ca.tmpl", "--outfile", "ca.pem", cwd=workdir)
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile",
             "srv.key", cwd=workdir)
    certtool("--generate-certificate", "--load-privkey", "srv.key",
             "--load-ca-privkey", "ca.key", "--load-ca-certificate", "ca.pem",
             "--template", "srv.tmpl", "--outfile", "srv.pem", cwd=workdir)
    with open(os.path.join(workdir, "chain.pem"), "w") as out:
        for name in ("srv.pem", "ca.pem"):
            with open(os.path.join(workdir, name)) as f:
                out.write(f.read())
    info = subprocess.run(["certtool", "-i", "--infile", "srv.pem"],
                          cwd=workdir, capture_output=True, text=True).stdout
    pin = [l.split("pin-sha256:")[1].strip() for l in info.splitlines()
           if "pin-sha256:" in l][0]
    ca_der = subprocess.run(["certtool", "-i", "--infile", "ca.pem",
                             "--outder"], cwd=workdir,
                            capture_output=True).stdout
    return {"cert": os.path.join(workdir, "chain.pem"),
            "key": os.path.join(workdir, "srv.key"),
            "ee": base64.b64decode(pin).hex(),
            "ta": hashlib.sha256(ca_der).hexdigest()}


@pytest.fixture(scope="module")
def dane_setup(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("dane"))
    chain = make_chain(work)
    port = free_port()
    extra = "".join(f"_{port}._tcp.{label} IN TLSA {rdata}\n" for label, rdata
                    in (("good", f"3 1 1 {chain['ee']}"),
                        ("bad", "3 1 1 " + "00" * 32),
                        ("ta", f"2 0 1 {chain['ta']}"),
                        ("tawrong", f"2 0 1 {chain['ta']}")))
    zones = SignedZones(os.path.join(work, "zones"), parent_extra=extra)
    nsd = Nsd(os.path.join(work, "nsd"), zones=zones.zones).start()
    yield zones, nsd, chain, port
    nsd.stop()


@pytest.fixture
def dot_server(dane_setup, make_anchord):
    zones, nsd, chain, port = dane_setup
    return make_anchord([upstream(nsd.port)], dot_port=port, config_extra=(
        f"tls: {{ certificate: {chain['cert']}, key: {chain['key']} }}"))


def stub(make_anchord, zones, port, name):
    return make_anchord(
        [f"{{ address: 127.0.0.1, port: {port}, transport: dot, "
         f"name: {name}.{PARENT}, dane: true }}"],
        config_extra=(f"dnssec:\n  validation: true\n"
                      f"  trust-anchors: [ {zones.anchor_file} ]\n"))


def first_answer(s):
    """The first NOERROR answer: it waits for the TLSA lookup and the
    handshake, which under valgrind can outlast one query's deadline."""
    got = []
    assert wait_until(lambda: got.append(
        query("www." + ZONE, port=s.port, timeout=6)) or
        got[-1].rcode() == dns.rcode.NOERROR, timeout=30), s.log()
    return got[-1]


def refused_by_dane(s):
    """SERVFAIL with EDE 23 (network error): the only upstream fails DANE.
    Under valgrind the first query can time out first (EDE 22, no
    reachable authority) while the TLSA lookup and handshake run."""
    got = []
    assert wait_until(lambda: got.append(
        query("www." + ZONE, port=s.port, timeout=8, use_edns=0)) or
        (ede_of(got[-1]) or [None])[0] == 23, timeout=30), s.log()
    assert got[-1].rcode() == dns.rcode.SERVFAIL


def test_dane_ee_upstream_works(dane_setup, dot_server, make_anchord):
    zones, _, _, port = dane_setup
    s = stub(make_anchord, zones, port, "good")
    r = first_answer(s)
    assert r.answer[0][0].to_text() == "127.0.0.10"
    assert "1 secure TLSA record" in s.log()
    # every query rides the authenticated connection (one upstream only)
    for i in range(5):
        assert query(f"h{i}.wild.{ZONE}", port=s.port, tcp=True).answer


def test_dane_ta_upstream_works(dane_setup, dot_server, make_anchord):
    zones, _, _, port = dane_setup
    s = stub(make_anchord, zones, port, "ta")
    first_answer(s)
    # DANE-TA checks the name: the certificate is for ta., not tawrong.
    s = stub(make_anchord, zones, port, "tawrong")
    refused_by_dane(s)


@pytest.mark.parametrize("name,why", [
    ("bad", "matches none"),            # a TLSA that is not this key
    ("missing", "no usable TLSA"),      # securely no TLSA at all
])
def test_wrong_or_missing_tlsa_fails(dane_setup, dot_server, make_anchord,
                                     name, why):
    zones, _, _, port = dane_setup
    s = stub(make_anchord, zones, port, name)
    refused_by_dane(s)
    assert wait_until(lambda: why in s.log()), s.log()


def test_publish_tlsa(nsd, make_anchord):
    a = make_anchord([upstream(nsd.port)], dot=True,
                     config_extra="tls: { publish-tlsa: true }")
    out = subprocess.run([os.path.join(os.path.dirname(
        os.environ.get("ANCHORD", "build/anchord")), "anchorctl"), "-c",
        a.conf, "pin"], capture_output=True, text=True).stdout
    record = [l for l in out.splitlines() if "TLSA" in l][0]
    owner, digest = record.split()[0], record.split()[-1]
    assert owner == f"_{a.dot_port}._tcp.dns.anchord.test."
    r = query(owner, "TLSA", port=a.port)
    assert r.flags & dns.flags.AA
    assert r.answer[0][0].to_text() == f"3 1 1 {digest}"
    # the same record over DoT, where a DANE client would look
    r = query(owner, "TLSA", port=a.port, tcp=True)
    assert r.answer[0][0].to_text() == f"3 1 1 {digest}"


def test_publish_tlsa_needs_a_tls_listener(tmp_path):
    conf = tmp_path / "a.conf"
    conf.write_text("upstream: [ { address: 127.0.0.1 } ]\n"
                    "tls: { publish-tlsa: true }\n")
    out = subprocess.run([os.environ.get("ANCHORD", "build/anchord"), "-c",
                          str(conf), "--check"], capture_output=True,
                         text=True)
    assert out.returncode != 0
    assert "tls.publish-tlsa" in out.stderr
