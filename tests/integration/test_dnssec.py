"""DNSSEC validation against real signed zones (ldns-keygen, ldns-signzone)
served by NSD, with anchord trusting only signed.test.'s key: verdicts,
the DO/CD/AD bits, Extended DNS Errors, the cache, and agreement with
delv (BIND's validator) and kdig."""
import subprocess
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from harness import LOCALHOST, ZONE, Nsd, ede_of, upstream
from signedzones import PARENT, SignedZones


@pytest.fixture(scope="module")
def zones(tmp_path_factory):
    return SignedZones(str(tmp_path_factory.mktemp("zones")))


@pytest.fixture(scope="module")
def signed_nsd(zones, tmp_path_factory):
    server = Nsd(str(tmp_path_factory.mktemp("nsd")), zones=zones.zones)
    server.start()
    yield server
    server.stop()


def dnssec_conf(zones, extra=""):
    return (f"dnssec:\n  validation: true\n"
            f"  trust-anchors: [ {zones.anchor_file} ]\n{extra}")


@pytest.fixture
def validator(signed_nsd, zones, make_anchord):
    return make_anchord([upstream(signed_nsd.port)],
                        config_extra=dnssec_conf(zones))


def ask(port, name, rdtype="A", do=True, cd=False, ad=False, edns=True):
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else False,
                               want_dnssec=do)
    q.flags &= ~(dns.flags.AD | dns.flags.CD)
    if cd:
        q.flags |= dns.flags.CD
    if ad:
        q.flags |= dns.flags.AD
    return dns.query.udp(q, LOCALHOST, port=port, timeout=6)


def verdict(r):
    """secure, insecure or bogus, as a client sees anchord's answer."""
    if r.rcode() == dns.rcode.SERVFAIL:
        return "bogus"
    return "secure" if r.flags & dns.flags.AD else "insecure"


def has_type(r, rdtype):
    return any(rrset.rdtype == rdtype
               for section in (r.answer, r.authority, r.additional)
               for rrset in section)


# ---------------------------------------------------------------- verdicts

SECURE = [("www." + PARENT, "A"), ("alias." + PARENT, "A"),
          ("x.wild." + PARENT, "A"), ("a.b.deep." + PARENT, "TXT"),
          (PARENT, "DNSKEY"), ("child." + PARENT, "DS"),
          ("www.child." + PARENT, "A"), ("txt.child." + PARENT, "TXT"),
          ("www.sub.child." + PARENT, "A")]
SECURE_NEGATIVE = [("nothere." + PARENT, "A", dns.rcode.NXDOMAIN),
                   ("www." + PARENT, "TXT", dns.rcode.NOERROR),
                   ("b.deep." + PARENT, "A", dns.rcode.NOERROR),
                   ("nothere.child." + PARENT, "A", dns.rcode.NXDOMAIN),
                   ("www.child." + PARENT, "MX", dns.rcode.NOERROR),
                   ("unsigned." + PARENT, "DS", dns.rcode.NOERROR)]


def test_secure_answers_carry_ad_and_signatures(validator):
    for name, rdtype in SECURE:
        for _ in range(2):      # from upstream, then from the cache
            r = ask(validator.port, name, rdtype)
            assert r.rcode() == dns.rcode.NOERROR, (name, r)
            assert r.flags & dns.flags.AD, (name, rdtype)
            assert has_type(r, dns.rdatatype.RRSIG), name


def test_secure_denials_carry_ad(validator):
    for name, rdtype, rcode in SECURE_NEGATIVE:
        r = ask(validator.port, name, rdtype)
        assert r.rcode() == rcode, (name, r)
        assert r.flags & dns.flags.AD, (name, rdtype)
        assert has_type(r, dns.rdatatype.NSEC) or \
            has_type(r, dns.rdatatype.NSEC3), name


def test_insecure_answers(validator):
    # a delegation the signed parent proves unsigned
    r = ask(validator.port, "www.unsigned." + PARENT)
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AD
    assert r.answer[0][0].to_text() == "127.0.0.31"
    # a DS for an algorithm nobody can validate: unsigned (RFC 4035 5.2)
    r = ask(validator.port, "www.algo." + PARENT)
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AD
    assert r.answer[0][0].to_text() == "127.0.0.34"
    assert ede_of(r)[0] == 1
    # no trust anchor above the name at all
    r = ask(validator.port, "www." + ZONE)
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AD
    assert ede_of(r) is None


@pytest.mark.parametrize("name,code", [
    ("tampered." + PARENT, 6),          # DNSSEC Bogus
    ("www.expired." + PARENT, 7),       # Signature Expired
    ("www.nokey." + PARENT, 9),         # DNSKEY Missing
])
def test_bogus_answers_get_servfail_with_ede(validator, name, code):
    for do in (True, False):
        r = ask(validator.port, name, do=do)
        assert r.rcode() == dns.rcode.SERVFAIL, r
        assert ede_of(r)[0] == code, ede_of(r)
        assert not r.answer


def test_stripped_signatures_are_rrsigs_missing(signed_nsd, zones,
                                                make_anchord, make_relay):
    relay = make_relay(signed_nsd.port, mode="strip-rrsig")
    a = make_anchord([upstream(relay.port)], config_extra=dnssec_conf(zones))
    r = ask(a.port, "www." + PARENT)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert ede_of(r)[0] in (9, 10), ede_of(r)    # the DNSKEY RRset first
    # below no anchor, nothing to miss
    assert ask(a.port, "www." + ZONE).rcode() == dns.rcode.NOERROR


def test_stripped_denial_is_nsec_missing(signed_nsd, zones, make_anchord,
                                         make_relay):
    relay = make_relay(signed_nsd.port, mode="strip-nsec")
    a = make_anchord([upstream(relay.port)], config_extra=dnssec_conf(zones))
    for name, rdtype in (("nothere." + PARENT, "A"), ("www." + PARENT, "TXT"),
                         ("nothere.child." + PARENT, "A")):
        r = ask(a.port, name, rdtype)
        assert r.rcode() == dns.rcode.SERVFAIL, name
        assert ede_of(r)[0] == 12, (name, ede_of(r))
    # positive answers need no denial
    assert verdict(ask(a.port, "www." + PARENT)) == "secure"


# ---------------------------------------------------------------- the bits

def test_do_cd_ad_bits_per_client(validator):
    name = "www." + PARENT
    for _ in range(2):          # a fresh answer, then a cached one
        r = ask(validator.port, name, do=True)
        assert r.flags & dns.flags.AD and has_type(r, dns.rdatatype.RRSIG)
        # RFC 6840 5.8: AD only for clients that set DO or AD
        r = ask(validator.port, name, do=False, ad=True)
        assert r.flags & dns.flags.AD
        assert not has_type(r, dns.rdatatype.RRSIG)
        r = ask(validator.port, name, do=False)
        assert not r.flags & dns.flags.AD
        assert not has_type(r, dns.rdatatype.RRSIG)
        assert r.answer[0][0].to_text() == "127.0.0.20"
        # the data was checked, CD or not
        r = ask(validator.port, name, do=True, cd=True)
        assert r.flags & dns.flags.CD and r.flags & dns.flags.AD
        # no EDNS at all: plain data
        r = ask(validator.port, name, do=False, edns=False)
        assert not r.flags & dns.flags.AD and r.answer
    # negative answers lose their NSEC records without DO
    r = ask(validator.port, "nothere." + PARENT, do=False)
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert not has_type(r, dns.rdatatype.NSEC)
    assert not has_type(r, dns.rdatatype.RRSIG)
    assert has_type(r, dns.rdatatype.SOA)
    # DNSSEC types asked for by name come whatever DO says
    r = ask(validator.port, PARENT, "DNSKEY", do=False)
    assert has_type(r, dns.rdatatype.DNSKEY)


def test_bogus_is_never_cached_as_good_and_cd_gets_the_data(validator):
    # validated first, then asked with CD, then without again
    name = "tampered." + PARENT
    assert ask(validator.port, name).rcode() == dns.rcode.SERVFAIL
    for do in (True, False):
        r = ask(validator.port, name, do=do, cd=True)
        assert r.rcode() == dns.rcode.NOERROR
        assert not r.flags & dns.flags.AD
        assert r.answer[0][0].to_text() == "127.0.0.22"
        assert has_type(r, dns.rdatatype.RRSIG) == do
    for do in (True, False):
        r = ask(validator.port, name, do=do)
        assert r.rcode() == dns.rcode.SERVFAIL and ede_of(r)[0] == 6
    # the other order: CD first must not make the data good for others
    name = "tampered2." + PARENT
    r = ask(validator.port, name, cd=True)
    assert r.rcode() == dns.rcode.NOERROR and not r.flags & dns.flags.AD
    for do in (True, False):
        r = ask(validator.port, name, do=do)
        assert r.rcode() == dns.rcode.SERVFAIL and ede_of(r)[0] == 6


def test_negative_trust_anchor(signed_nsd, zones, make_anchord):
    a = make_anchord([upstream(signed_nsd.port)], config_extra=dnssec_conf(
        zones, f"  negative-trust-anchors: [ tampered.{PARENT}, "
               f"expired.{PARENT} ]\n"))
    for name, addr in (("tampered." + PARENT, "127.0.0.22"),
                       ("www.expired." + PARENT, "127.0.0.32")):
        r = ask(a.port, name)
        assert r.rcode() == dns.rcode.NOERROR, r
        assert not r.flags & dns.flags.AD
        assert r.answer[0][0].to_text() == addr
    # the rest of the island is still validated
    assert verdict(ask(a.port, "www." + PARENT)) == "secure"
    assert verdict(ask(a.port, "tampered2." + PARENT)) == "bogus"


def test_ttl_never_outlives_the_signatures(validator, zones):
    asked = time.time()
    r = ask(validator.port, "www.soon." + PARENT)
    assert r.flags & dns.flags.AD
    # TTLs are whole seconds, counted down from when the answer was cached
    # (also in whole seconds): up to two seconds of rounding, however slow
    # the daemon (valgrind) is
    left = zones.soon_expiry - asked
    assert r.answer[0].ttl <= left + 2, (r.answer[0].ttl, left)
    assert r.answer[0].ttl < 3600


def test_keys_are_cached(signed_nsd, zones, make_anchord, make_relay):
    relay = make_relay(signed_nsd.port)
    a = make_anchord([upstream(relay.port)], config_extra=dnssec_conf(zones))
    assert verdict(ask(a.port, "www." + PARENT)) == "secure"
    asked = {(n, t) for _, _, n, t in relay.udp_queries}
    assert (PARENT, dns.rdatatype.DNSKEY) in asked
    # every upstream query had DO and CD set
    before = len(relay.udp_queries)
    assert verdict(ask(a.port, "alias." + PARENT)) == "secure"
    assert verdict(ask(a.port, "www.child." + PARENT)) == "secure"
    later = [(n, t) for _, _, n, t in relay.udp_queries[before:]]
    assert (PARENT, dns.rdatatype.DNSKEY) not in later, later
    assert ("child." + PARENT, dns.rdatatype.DS) in later
    before = len(relay.udp_queries)
    assert verdict(ask(a.port, "txt.child." + PARENT, "TXT")) == "secure"
    later = [t for _, _, _, t in relay.udp_queries[before:]]
    assert later == [dns.rdatatype.TXT], later


# ---------------------------------------------------------------- other validators

def delv(nsd, zones, name, rdtype="A"):
    """BIND's verdict, asking NSD directly with the same trust anchor."""
    out = subprocess.run(["delv", "@" + LOCALHOST, "-p", str(nsd.port), "-a",
                          zones.delv_anchor_file, "+root=" + PARENT,
                          "+nosplit", name, rdtype],
                         capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    if "fully validated" in text:
        return "secure"
    if "unsigned answer" in text:
        return "insecure"
    return "bogus"


def kdig(port, name, rdtype="A"):
    out = subprocess.run(["kdig", "@" + LOCALHOST, "-p", str(port),
                          "+dnssec", "+time=5", "+retry=0", name, rdtype],
                         capture_output=True, text=True, timeout=30).stdout
    if "status: SERVFAIL" in out:
        return "bogus"
    flags = [l for l in out.splitlines() if l.startswith(";; Flags:")][0]
    return "secure" if " ad" in flags.split(";")[2] else "insecure"


CASES = [("www." + PARENT, "A", "secure"),
         ("x.wild." + PARENT, "A", "secure"),
         ("nothere." + PARENT, "A", "secure"),
         ("www.child." + PARENT, "A", "secure"),
         ("www.sub.child." + PARENT, "A", "secure"),
         ("nothere.child." + PARENT, "A", "secure"),
         ("www.unsigned." + PARENT, "A", "insecure"),
         ("www.algo." + PARENT, "A", "insecure"),
         ("tampered." + PARENT, "A", "bogus"),
         ("www.expired." + PARENT, "A", "bogus"),
         ("www.nokey." + PARENT, "A", "bogus")]


def test_delv_and_kdig_agree(validator, signed_nsd, zones):
    for name, rdtype, expected in CASES:
        mine = kdig(validator.port, name, rdtype)
        theirs = delv(signed_nsd, zones, name, rdtype)
        assert (mine, theirs) == (expected, expected), name


# ---------------------------------------------------------------- signed local zones

def test_signed_local_zone_is_served_with_its_proofs(zones, make_anchord,
                                                     signed_nsd):
    parent = dict(zones.zones)[PARENT]
    a = make_anchord([upstream(signed_nsd.port)], config_extra=(
        f"local-zones:\n  - {{ name: {PARENT}, file: {parent} }}\n" +
        dnssec_conf(zones)))
    r = ask(a.port, "www." + PARENT)
    assert r.flags & dns.flags.AA and not r.flags & dns.flags.AD
    assert has_type(r, dns.rdatatype.RRSIG)
    r = ask(a.port, "www." + PARENT, do=False)
    assert r.answer and not has_type(r, dns.rdatatype.RRSIG)
    r = ask(a.port, "nothere." + PARENT)
    assert r.rcode() == dns.rcode.NXDOMAIN and has_type(r, dns.rdatatype.NSEC)
    # BIND's validator, asking anchord itself, finds every answer valid
    for name, rdtype in (("www." + PARENT, "A"), ("x.wild." + PARENT, "A"),
                         ("nothere." + PARENT, "A"), ("www." + PARENT, "TXT"),
                         ("b.deep." + PARENT, "A")):
        assert delv(a, zones, name, rdtype) == "secure", name
    # the tampered record stays tampered: anchord serves, delv refuses
    assert ask(a.port, "tampered." + PARENT).rcode() == dns.rcode.NOERROR
    assert delv(a, zones, "tampered." + PARENT) == "bogus"
