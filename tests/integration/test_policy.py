"""Per-client profiles, blocklists and MUD enforcement (RFC 8520) with a real
NSD, real TLS clients (kdig), a real HTTPS server for MUD files and
signatures made by openssl cms.

Test devices are told apart by their loopback source address: the client
rules and MUD bindings name 127.0.0.5 and friends, while 127.0.0.1 stays an
ordinary client.
"""
import json
import os
import signal
import subprocess

import dns.message
import dns.query
import dns.rcode
import pytest

from harness import (ANCHORD, ANCHORCTL, LOCALHOST, Nsd, ZONE, ede_of, query, tmpdir,
                     upstream, wait_until)
from mudserver import (ZONE_EXTRA, MudServer, Signer, issue, mud_file,
                       subject_der)
from test_dot import issue_client_cert

DEVICE = "127.0.0.5"
OTHER_DEVICE = "127.0.0.6"


@pytest.fixture(scope="module")
def mud_nsd():
    d = tmpdir("anchord-mudnsd-")
    server = Nsd(d, extra_zone=ZONE_EXTRA).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def signer():
    return Signer(tmpdir("anchord-mudsigner-"))


@pytest.fixture
def web(tmp_path):
    s = MudServer(str(tmp_path / "web"))
    yield s
    s.close()


def ask(a, name, source=LOCALHOST, rdtype="A", tcp=False):
    q = dns.message.make_query(name, rdtype, use_edns=0)
    if tcp:
        return dns.query.tcp(q, LOCALHOST, port=a.port, timeout=3,
                             source=source)
    return dns.query.udp(q, LOCALHOST, port=a.port, timeout=3, source=source)


def addresses(msg):
    return sorted(rd.address for rrset in msg.answer for rd in rrset
                  if rrset.rdtype in (1, 28))


def blocked(msg):
    return msg.rcode() == dns.rcode.NXDOMAIN and ede_of(msg) and \
        ede_of(msg)[0] == 15


def anchorctl(a, *args, check=True):
    out = subprocess.run([ANCHORCTL, "-c", a.conf] + list(args),
                         capture_output=True, text=True, timeout=30)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def policy_state(a):
    return json.loads(anchorctl(a, "mud", "show", "--json").stdout)


def mud_status(a, url):
    for m in policy_state(a)["mud"]:
        if m["url"] == url:
            return m
    return None


# ------------------------------------------------------------------ blocklists

def test_blocklists_profiles_and_reload(mud_nsd, make_anchord, tmp_path):
    blocklist = tmp_path / "malware.list"
    blocklist.write_text("# plain-domain and hosts lines\r\n"
                         "ads.up.test\r\n"
                         "0.0.0.0 tracker.up.test\n"
                         "not a valid line !!\n")
    a = make_anchord([upstream(mud_nsd.port)], config_extra=f"""
profiles:
  default: {{ }}
  byod: {{ blocklists: [{blocklist}], allow: [sub.ads.up.test] }}
clients:
  - {{ subnet: [{DEVICE}/32, 127.0.0.9], profile: byod }}
""")
    # the byod device: the list's subtree blocked, the exception allowed
    r = ask(a, "ads." + ZONE, DEVICE)
    assert blocked(r), r
    assert "blocked by" in ede_of(r)[1]
    assert blocked(ask(a, "deep.ads." + ZONE, DEVICE, tcp=True))
    assert addresses(ask(a, "sub.ads." + ZONE, DEVICE)) == ["127.0.0.25"]
    assert blocked(ask(a, "tracker." + ZONE, DEVICE))
    assert addresses(ask(a, "other." + ZONE, DEVICE)) == ["127.0.0.23"]
    # everyone else gets the default profile
    assert addresses(ask(a, "ads." + ZONE)) == ["127.0.0.24"]
    assert "malformed line(s) skipped, the first at line 4" in a.log()
    assert "blocked ads.up.test. A for 127.0.0.5" in a.log()
    stats = json.loads(anchorctl(a, "stats").stdout)
    assert stats["policy"]["blocked"] == 3
    # SIGHUP reloads the lists
    blocklist.write_text("other.up.test\n")
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: blocked(ask(a, "other." + ZONE, DEVICE)))
    assert addresses(ask(a, "ads." + ZONE, DEVICE)) == ["127.0.0.24"]
    # a list that cannot be read refuses the reload; the old one stays
    os.unlink(blocklist)
    a.signal(signal.SIGHUP)
    assert wait_until(lambda: "reload refused" in a.log())
    assert blocked(ask(a, "other." + ZONE, DEVICE))


def test_refused_rcode_and_inline_block(mud_nsd, make_anchord):
    a = make_anchord([upstream(mud_nsd.port)], config_extra=f"""
profiles:
  strict: {{ block: ["*.up.test", arpa], allow: [other.up.test] }}
clients:
  - {{ subnet: {DEVICE}/32, profile: strict }}
mud:
  block-rcode: refused
""")
    r = ask(a, "ads." + ZONE, DEVICE)
    assert r.rcode() == dns.rcode.REFUSED and ede_of(r)[0] == 15
    assert addresses(ask(a, "other." + ZONE, DEVICE)) == ["127.0.0.23"]
    # DDR names concern the resolver itself and are never blocked, while
    # the rest of arpa. is
    r = ask(a, "_dns.resolver.arpa", DEVICE, rdtype="SVCB")
    assert r.rcode() == dns.rcode.NOERROR and not ede_of(r)
    r = ask(a, "1.0.0.127.in-addr.arpa", DEVICE, rdtype="PTR")
    assert r.rcode() == dns.rcode.REFUSED and ede_of(r)[0] == 15


def test_bad_policy_config_is_refused(mud_nsd, make_anchord, tmp_path):
    for extra, why in (
            ("clients:\n  - { subnet: 10.0.0.0/8, profile: nope }",
             'no profile named "nope"'),
            ("profiles:\n  p: { mud: sometimes }", "expected required"),
            ("profiles:\n  p: { block: [\"bad name!\"] }", "not a domain"),
            ("clients:\n  - { subnet: 10.0.0.0/33, profile: default }",
             "not an address or a prefix"),
            (f"profiles:\n  p: {{ blocklists: [{tmp_path}/missing] }}",
             "missing"),
            ("mud:\n  nftables-table: \"x; flush ruleset\"",
             "mud.nftables-table"),
    ):
        a = make_anchord([upstream(mud_nsd.port)], start=False,
                         config_extra=extra)
        out = subprocess.run([ANCHORD, "-c", a.conf, "--check"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, extra
        assert why in out.stderr, out.stderr


# ------------------------------------------------------------------ MUD

def mud_anchord(make_anchord, nsd, web, signer, extra="", **kw):
    return make_anchord([upstream(nsd.port)], config_extra=f"""
profiles:
  iot: {{ mud: required }}
clients:
  - {{ subnet: [{DEVICE}/32, {OTHER_DEVICE}/32], profile: iot }}
  - {{ certificate-mud: true, profile: iot }}
mud:
  signers: [{signer.trust}]
  fetch-ca: [{web.trust}]
  fetch-timeout: 5s
  retry: 2s
{extra}
""", **kw)


def wait_mud(a, url, status="ok"):
    assert wait_until(lambda: (mud_status(a, url) or {}).get("status") ==
                      status, timeout=20), policy_state(a)


def test_bound_device_resolves_only_its_mud_names(mud_nsd, make_anchord,
                                                  web, signer):
    url = web.publish("thermo.json", signer)
    a = mud_anchord(make_anchord, mud_nsd, web, signer, https=True)
    # before any binding: iot without a MUD file resolves nothing
    r = ask(a, "telemetry." + ZONE, DEVICE)
    assert blocked(r) and "no MUD file" in ede_of(r)[1]
    out = anchorctl(a, "mud", "bind", "--ip", DEVICE, "--url", url,
                    "--source", "dhcp").stdout
    assert f"bound {DEVICE}" in out
    wait_mud(a, url)
    assert ("/thermo.json", "application/mud+json") in web.requests
    assert ("/thermo.p7s", "application/pkcs7-signature") in web.requests
    # UDP and TCP: the allowed names, AAAA too, and nothing else
    assert addresses(ask(a, "telemetry." + ZONE, DEVICE)) == ["127.0.0.21"]
    assert addresses(ask(a, "telemetry." + ZONE, DEVICE, "AAAA",
                         tcp=True)) == ["::21"]
    r = ask(a, "other." + ZONE, DEVICE)
    assert blocked(r) and "MUD" in ede_of(r)[1]
    # an allowed name's CNAME chain is answered whole...
    r = ask(a, "firmware." + ZONE, DEVICE)
    assert addresses(r) == ["127.0.0.22"]
    # ...but the chain's target is not allowed on its own
    assert blocked(ask(a, "edge-cdn." + ZONE, DEVICE))
    # DoH from the same device: kdig binds the source address
    out = subprocess.run(["kdig", "@" + LOCALHOST, "-p", str(a.https_port),
                          "-b", DEVICE, "+https", "+tls-ca=" + a.ca,
                          "+tls-hostname=dns.anchord.test", "+time=3",
                          "+retry=0", "other." + ZONE],
                         capture_output=True, text=True, timeout=20).stdout
    assert "NXDOMAIN" in out and "15 (Blocked)" in out, out
    out = subprocess.run(["kdig", "@" + LOCALHOST, "-p", str(a.https_port),
                          "-b", DEVICE, "+https", "+tls-ca=" + a.ca,
                          "+tls-hostname=dns.anchord.test", "+time=3",
                          "+retry=0", "+short", "telemetry." + ZONE],
                         capture_output=True, text=True, timeout=20).stdout
    assert "127.0.0.21" in out, out
    # an unbound client is not confined
    assert addresses(ask(a, "other." + ZONE)) == ["127.0.0.23"]
    # unbinding takes the MUD file away again
    anchorctl(a, "mud", "unbind", "--ip", DEVICE)
    assert wait_until(lambda: blocked(ask(a, "telemetry." + ZONE, DEVICE)))
    audit = anchorctl(a, "audit").stdout
    assert "mud-bind" in audit and "mud-unbind" in audit


def test_dot_device_identified_by_certificate_mud_url(mud_nsd, make_anchord,
                                                      web, signer, tmp_path):
    url = web.publish("cam.json", signer)
    a = mud_anchord(make_anchord, mud_nsd, web, signer, dot=True)
    key, cert = mud_cert(a, tmp_path, "camera-1", url)

    def dot(name):
        return subprocess.run(
            ["kdig", "@" + LOCALHOST, "-p", str(a.dot_port), "+tls-ca=" + a.ca,
             "+tls-hostname=dns.anchord.test", "+tls-certfile=" + cert,
             "+tls-keyfile=" + key, "+time=3", "+retry=0", name],
            capture_output=True, text=True, timeout=20).stdout

    # the URL is learnt from the certificate and fetched on the spot
    assert wait_until(lambda: "127.0.0.21" in dot("telemetry." + ZONE),
                      timeout=20), a.log()
    out = dot("other." + ZONE)
    assert "NXDOMAIN" in out and "15 (Blocked)" in out, out
    assert f"MUD URL {url} from a client certificate" in a.log()
    # a certificate without the extension gets the default profile
    plain_cert, plain_key = issue_client_cert(a, str(tmp_path), "laptop")
    out = subprocess.run(
        ["kdig", "@" + LOCALHOST, "-p", str(a.dot_port), "+tls-ca=" + a.ca,
         "+tls-hostname=dns.anchord.test", "+tls-certfile=" + plain_cert,
         "+tls-keyfile=" + plain_key, "+time=3", "+retry=0", "+short",
         "other." + ZONE], capture_output=True, text=True, timeout=20).stdout
    assert "127.0.0.23" in out


def mud_cert(a, tmp_path, name, url, signer_der=None):
    """A device certificate from anchord's CA with id-pe-mud-url and, when
    given, id-pe-mudsigner (RFC 8520 sections 10 and 11)."""
    ext = bytes([0x16, len(url)]) + url.encode()
    tmpl = ('tls_www_client\nsigning_key\n'
            f'add_extension = "1.3.6.1.5.5.7.1.25 0x{ext.hex()}"\n')
    if signer_der:
        tmpl += f'add_extension = "1.3.6.1.5.5.7.1.30 0x{signer_der.hex()}"\n'
    return issue(str(tmp_path), name, (os.path.join(a.state, "ca.key"), a.ca),
                 tmpl)


def test_mudsigner_of_the_certificate_is_enforced(mud_nsd, make_anchord, web,
                                                  signer, tmp_path):
    good = web.publish("a.json", signer)
    other = web.publish("b.json", signer)
    a = mud_anchord(make_anchord, mud_nsd, web, signer, dot=True)
    rogue = Signer(str(tmp_path / "rogue"), "rogue")
    # the device names its manufacturer's signer: the file verifies
    key1, cert1 = mud_cert(a, tmp_path, "dev-1", good,
                           subject_der(signer.cert))
    # this one names another signer than the one that signed its file
    key2, cert2 = mud_cert(a, tmp_path, "dev-2", other,
                           subject_der(rogue.cert))

    def dot(key, cert, name):
        return subprocess.run(
            ["kdig", "@" + LOCALHOST, "-p", str(a.dot_port), "+tls-ca=" + a.ca,
             "+tls-hostname=dns.anchord.test", "+tls-certfile=" + cert,
             "+tls-keyfile=" + key, "+time=3", "+retry=0", name],
            capture_output=True, text=True, timeout=20).stdout

    assert wait_until(lambda: "127.0.0.21" in dot(key1, cert1,
                                                 "telemetry." + ZONE),
                      timeout=20), a.log()
    assert wait_until(lambda: "15 (Blocked)" in dot(key2, cert2,
                                                   "telemetry." + ZONE),
                      timeout=20), a.log()
    state = mud_status(a, other)
    assert state["status"] == "failed", state
    assert "rogue" in state["error"], state


def test_bad_signature_keeps_the_previous_policy(mud_nsd, make_anchord, web,
                                                 signer, tmp_path):
    url = web.publish("plug.json", signer)
    a = mud_anchord(make_anchord, mud_nsd, web, signer)
    anchorctl(a, "mud", "bind", "--ip", DEVICE, "--url", url)
    wait_mud(a, url)
    assert addresses(ask(a, "telemetry." + ZONE, DEVICE)) == ["127.0.0.21"]
    # the file changes (allowing more), the signature does not
    web.put("plug.json", open(os.path.join(web.root, "plug.json")).read()
            .replace("telemetry.up.test", "other.up.test"))
    anchorctl(a, "mud", "fetch", url)
    assert wait_until(lambda: "error" in (mud_status(a, url) or {}),
                      timeout=20)
    state = mud_status(a, url)
    assert state["status"] == "stale", state
    assert "signature" in state["error"] or "verif" in state["error"]
    assert addresses(ask(a, "telemetry." + ZONE, DEVICE)) == ["127.0.0.21"]
    assert blocked(ask(a, "other." + ZONE, DEVICE))
    assert "the previous policy stays in force" in a.log()
    # a file signed by a signer anchord does not trust is no better
    rogue = Signer(str(tmp_path / "rogue"), "rogue")
    web.publish("plug.json", rogue, names=["other.up.test"])
    anchorctl(a, "mud", "fetch", url)
    assert wait_until(lambda: a.log().count(
        "the previous policy stays in force") >= 2, timeout=20)
    assert blocked(ask(a, "other." + ZONE, DEVICE))
    # a restart enforces the saved copy before any fetch
    web.close()
    a.stop()
    a.start()
    assert addresses(ask(a, "telemetry." + ZONE, DEVICE)) == ["127.0.0.21"]


def test_mud_url_mismatch_and_unsigned_are_rejected(mud_nsd, make_anchord,
                                                    web, signer):
    # the file claims another URL than the one it was fetched from
    wrong = web.publish("lamp.json", signer, url=web.url("other.json"))
    unsigned = web.url("bulb.json")
    web.put("bulb.json", mud_file(unsigned, signature=False))
    a = mud_anchord(make_anchord, mud_nsd, web, signer)
    anchorctl(a, "mud", "bind", "--ip", DEVICE, "--url", wrong)
    anchorctl(a, "mud", "bind", "--ip", OTHER_DEVICE, "--url", unsigned)
    wait_mud(a, wrong, "failed")
    wait_mud(a, unsigned, "failed")
    assert "mud-url" in mud_status(a, wrong)["error"]
    assert "mud-signature" in mud_status(a, unsigned)["error"]
    r = ask(a, "telemetry." + ZONE, DEVICE)
    assert blocked(r) and "not usable" in ede_of(r)[1]
    assert blocked(ask(a, "telemetry." + ZONE, OTHER_DEVICE))
    # anchorctl refuses what is not a MUD URL
    out = anchorctl(a, "mud", "bind", "--ip", DEVICE, "--url",
                    "http://127.0.0.1/x.json", check=False)
    assert out.returncode == 2 and "https" in out.stderr
    out = anchorctl(a, "mud", "bind", "--ip", "not-an-ip", "--url", wrong,
                    check=False)
    assert out.returncode == 2


def test_pep_events_on_the_control_socket(mud_nsd, make_anchord, web,
                                          signer):
    url = web.publish("meter.json", signer)
    a = mud_anchord(make_anchord, mud_nsd, web, signer)
    anchorctl(a, "mud", "bind", "--ip", DEVICE, "--url", url)
    wait_mud(a, url)
    events = subprocess.Popen([ANCHORCTL, "-c", a.conf, "events"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert json.loads(events.stdout.readline())["events"] is True
        assert addresses(ask(a, "firmware." + ZONE, DEVICE)) == ["127.0.0.22"]
        e = json.loads(events.stdout.readline())
        assert e["device"] == DEVICE and e["address"] == "127.0.0.22"
        assert e["name"] == "edge-cdn.up.test." and e["ttl"] > 0
    finally:
        events.terminate()
        events.wait(10)
