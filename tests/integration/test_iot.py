"""IoT devices enrolling with their 802.1AR IDevID through EST: a
manufacturer CA the administrator trusts (est.manufacturer-trust), the
allow-list of anchorctl iot allow, and an LDevID that carries the IDevID's
serialNumber and MUD URL, so the device's DoT queries are confined to its
MUD file from the first one. Real TLS (curl, kdig), a real NSD, real MUD
files over HTTPS signed by openssl cms.
"""
import os
import subprocess

import pytest

from harness import LOCALHOST, ZONE, upstream, wait_until
from mudserver import make_ca, certtool
from test_est import (anchorctl, est, first_pem, make_csr, new_key,
                      p7_certs, save, x509)
from test_policy import mud_anchord, mud_nsd, signer, web  # noqa: F401

MUD_URL_OID = "1.3.6.1.5.5.7.1.25"
MASA_URL_OID = "1.3.6.1.5.5.7.1.32"


def ia5(text):
    raw = text.encode()
    return bytes([0x16, len(raw)] if len(raw) < 128
                 else [0x16, 0x81, len(raw)]) + raw


def idevid(d, name, ca, serial=None, mud_url=None, masa_url=None):
    """A factory certificate as 802.1AR describes it: serialNumber in the
    subject, no expiry (99991231235959Z), MUD and MASA URL extensions."""
    key, cert, tmpl = (os.path.join(d, f"{name}{s}")
                       for s in (".key", ".pem", ".tmpl"))
    lines = [f'cn = "{name}"', "expiration_days = -1", "tls_www_client",
             "signing_key"]
    if serial:
        lines.append(f"dn_oid = 2.5.4.5 {serial}")
    if mud_url:
        lines.append(f'add_extension = "{MUD_URL_OID} 0x{ia5(mud_url).hex()}"')
    if masa_url:
        lines.append(f'add_extension = "{MASA_URL_OID} '
                     f'0x{ia5(masa_url).hex()}"')
    with open(tmpl, "w") as f:
        f.write("\n".join(lines) + "\n")
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", key)
    certtool("--generate-certificate", "--load-privkey", key,
             "--load-ca-privkey", ca[0], "--load-ca-certificate", ca[1],
             "--template", tmpl, "--outfile", cert)
    return cert, key


@pytest.fixture
def factory(tmp_path):
    d = str(tmp_path / "factory")
    os.makedirs(d)
    return d, make_ca(d, "Acme Factory CA"), make_ca(d, "Rogue Factory CA")


def iot_anchord(make_anchord, nsd, web, signer, trust, est_extra=""):
    """anchord confining IoT devices to their MUD files, admitting the
    IDevIDs of the manufacturer CAs in trust."""
    return mud_anchord(make_anchord, nsd, web, signer, dot=True, https=True,
                       extra=f"""
tls:
  client-certificates: request
est:
  manufacturer-trust: [{", ".join(trust)}]
{est_extra}""")


def enroll_with(a, tmp, cert, key, op="simpleenroll", cn="ignored"):
    """An EST enrollment authenticated by a TLS client certificate only."""
    new = new_key(tmp, "ldevid-" + os.path.basename(cert))
    return new, est(a, op, tmp, make_csr(tmp, new, cn=cn),
                    cert=(cert, key))


def ldevid_of(r, tmp):
    assert r.code == 200, r.body
    return first_pem(p7_certs(r.body, tmp))


def dot(a, cert, key, name):
    return subprocess.run(
        ["kdig", "@" + LOCALHOST, "-p", str(a.dot_port), "+tls-ca=" + a.ca,
         "+tls-hostname=dns.anchord.test", "+tls-certfile=" + cert,
         "+tls-keyfile=" + key, "+time=3", "+retry=0", name],
        capture_output=True, text=True, timeout=20).stdout


def test_idevid_gets_an_ldevid_bound_to_its_mud_file(mud_nsd, make_anchord,
                                                     web, signer, factory,
                                                     tmp_path):
    d, acme, _ = factory
    url = web.publish("thermo.json", signer)
    cert, key = idevid(d, "thermostat", acme, serial="SN-0001", mud_url=url,
                       masa_url="https://127.0.0.1:9/masa")
    a = iot_anchord(make_anchord, mud_nsd, web, signer, [acme[1]])
    tmp = str(tmp_path)
    # a trusted manufacturer, but no rule admits the device yet
    _, r = enroll_with(a, tmp, cert, key)
    assert r.code == 403, r.body
    assert b"SN-0001" in r.body and b"anchorctl iot allow" in r.body
    assert "idevid-refused" in anchorctl(a, "audit").stdout
    out = anchorctl(a, "iot", "allow", "--issuer", acme[1], "--pattern",
                    "SN-*", "--profile", "iot").stdout
    assert "rule 1: serials SN-* of CN=Acme Factory CA" in out, out
    assert "pattern=SN-*" in anchorctl(a, "iot", "list").stdout
    ldkey, r = enroll_with(a, tmp, cert, key)
    ldevid = ldevid_of(r, tmp)
    # the LDevID: anchord's CA, the IDevID's serial and MUD URL
    assert "Acme" not in x509(ldevid, "-issuer")
    subject = x509(ldevid, "-subject")
    assert "serialNumber = SN-0001" in subject and "CN = thermostat" in \
        subject, subject
    assert url in x509(ldevid, "-text")
    listing = anchorctl(a, "cert", "list").stdout
    assert "idevid:SN-0001" in listing and "iot" in listing, listing
    # its first DoT query is already confined to its MUD file
    ldpath = save(tmp, "ldevid.pem", ldevid)
    assert wait_until(lambda: "127.0.0.21" in dot(a, ldpath, ldkey,
                                                  "telemetry." + ZONE),
                      timeout=20), a.log()
    out = dot(a, ldpath, ldkey, "other." + ZONE)
    assert "NXDOMAIN" in out and "15 (Blocked)" in out, out
    # renewal with the LDevID keeps serial and MUD URL
    _, r = enroll_with(a, tmp, ldpath, ldkey, op="simplereenroll")
    renewed = ldevid_of(r, tmp)
    assert "serialNumber = SN-0001" in x509(renewed, "-subject")
    assert url in x509(renewed, "-text")


def test_idevid_refusals_say_why(mud_nsd, make_anchord, web, signer,
                                 factory, tmp_path):
    d, acme, rogue = factory
    a = iot_anchord(make_anchord, mud_nsd, web, signer, [acme[1]])
    tmp = str(tmp_path)
    good = idevid(d, "plug-2", acme, serial="SN-0002")
    other = idevid(d, "plug-3", acme, serial="SN-0003")
    forged = idevid(d, "plug-4", rogue, serial="SN-0002")
    no_serial = idevid(d, "plug-5", acme)
    # explicit serials only
    out = anchorctl(a, "iot", "allow", "--issuer", acme[1], "SN-0002").stdout
    assert "rule 1: serial SN-0002" in out, out
    assert enroll_with(a, tmp, *good)[1].code == 200
    r = enroll_with(a, tmp, *other)[1]
    assert r.code == 403 and b"not allowed to enroll" in r.body, r.body
    # the same serial from a manufacturer nobody trusts
    r = enroll_with(a, tmp, *forged)[1]
    assert r.code == 403, r.body
    assert b"not an IDevID of a trusted manufacturer" in r.body, r.body
    r = enroll_with(a, tmp, *no_serial)[1]
    assert r.code == 403 and b"no serialNumber" in r.body, r.body
    assert "IDevID refused" in a.log()
    # a rule for another manufacturer's DN does not admit Acme's devices
    anchorctl(a, "iot", "allow", "--issuer", "CN=Other Corp", "SN-0003")
    assert enroll_with(a, tmp, *other)[1].code == 403
    # removing the rule shuts the door again
    assert "removed rule 1" in anchorctl(a, "iot", "remove", "1").stdout
    assert enroll_with(a, tmp, *good)[1].code == 403
    assert anchorctl(a, "iot", "remove", "1", check=False).returncode == 1
    bad = anchorctl(a, "iot", "allow", "--profile", "nope", "X",
                    check=False)
    assert bad.returncode == 2 and "no profile" in bad.stderr
    audit = anchorctl(a, "audit").stdout
    assert "iot-allow" in audit and "iot-remove" in audit


def test_idevid_needs_manufacturer_trust(nsd, make_anchord, factory,
                                         tmp_path):
    d, acme, _ = factory
    cert, key = idevid(d, "cam", acme, serial="SN-0009")
    a = make_anchord([upstream(nsd.port)], https=True, config_extra="""
tls:
  client-certificates: request
""")
    anchorctl(a, "iot", "allow", "--pattern", "*")
    # without est.manufacturer-trust an IDevID is just an unknown
    # certificate: no token, no password, so 401
    r = enroll_with(a, str(tmp_path), cert, key)[1]
    assert r.code == 401, r.body


def test_unreadable_manufacturer_trust_is_refused(nsd, make_anchord,
                                                  tmp_path):
    a = make_anchord([upstream(nsd.port)], https=True, start=False,
                     config_extra=f"""
est:
  manufacturer-trust: [{tmp_path}/missing.pem]
""")
    a.start(wait=False)
    assert a.proc.wait(timeout=30) != 0
    a.proc = None
    a.log_fd.close()
    assert "missing.pem" in a.log(), a.log()
