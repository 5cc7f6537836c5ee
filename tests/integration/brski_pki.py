"""The PKI of a BRSKI test: made with the openssl command in one directory.

    pki = brski_pki.make(directory, masa_port=8443)
    pki.idevid("PLG-0001")          # -> Identity(cert, key)

What is made (all ECDSA P-256 but the registrar, which is RSA 2048 so that
both key types cross the wire):

- mfg_ca: the manufacturer CA; it issues the IDevIDs.
- other_mfg_ca: a second manufacturer CA nobody trusts (a rogue pledge).
- masa_ca: the MASA's own CA, the anchor pledges trust for vouchers. It is
  not the manufacturer CA on purpose: a pledge that trusted the
  manufacturer CA for vouchers would accept a "voucher" signed by any
  other pledge's IDevID.
- masa: the MASA's voucher-signing certificate (issued by masa_ca), and
  masa_tls: its HTTPS certificate for 127.0.0.1 (issued by masa_ca).
- wrong_masa: a voucher signer issued by other_mfg_ca (not trusted).
- domain_ca and registrar: the domain, whose registrar certificate has the
  EKU id-kp-cmcRA (1.3.6.1.5.5.7.3.28) next to serverAuth and clientAuth.
- other_domain_ca: a second domain CA, for vouchers that pin the wrong one.
- IDevIDs on request: subject serialNumber (2.5.4.5) and CN, the
  extensions id-pe-masa-url (1.3.6.1.5.5.7.1.32) and id-pe-mud-url
  (1.3.6.1.5.5.7.1.25) as DER IA5Strings, notAfter 99991231235959Z (the
  802.1AR "no well-defined expiration"), issued by mfg_ca (or
  other_mfg_ca).
"""
import os
import subprocess
from dataclasses import dataclass

MASA_URL_OID = "1.3.6.1.5.5.7.1.32"
MUD_URL_OID = "1.3.6.1.5.5.7.1.25"
CMC_RA_OID = "1.3.6.1.5.5.7.3.28"

CA_CONF = """\
[ ca ]
default_ca = ca_default
[ ca_default ]
database = {dir}/index.txt
serial = {dir}/serial
new_certs_dir = {dir}/newcerts
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[ policy_any ]
serialNumber = optional
commonName = supplied
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
"""

LEAF_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass
class Identity:
    cert: str
    key: str


def _run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


class Pki:
    def __init__(self, directory, masa_port):
        self.dir = os.path.abspath(directory)
        self.masa_url = "https://127.0.0.1:%d" % masa_port
        os.makedirs(os.path.join(self.dir, "newcerts"), exist_ok=True)
        self.conf = self._write("ca.cnf", CA_CONF.format(dir=self.dir))
        self._write("index.txt", "")
        self._write("serial", "1000\n")

    def _write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _key(self, name, rsa=False):
        path = os.path.join(self.dir, name + ".key")
        algo = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] \
            if rsa else ["-algorithm", "EC", "-pkeyopt",
                         "ec_paramgen_curve:P-256"]
        _run("openssl", "genpkey", *algo, "-out", path)
        return path

    def root(self, name, cn):
        key = self._key(name)
        cert = os.path.join(self.dir, name + ".crt")
        _run("openssl", "req", "-x509", "-new", "-key", key, "-out", cert,
             "-subj", "/CN=" + cn, "-days", "3650", "-config", self.conf,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash")
        return Identity(cert, key)

    def issue(self, name, subject, issuer, ext, rsa=False, enddate=None):
        """A certificate for subject ("/serialNumber=../CN=..") by issuer."""
        key = self._key(name, rsa)
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".crt")
        extfile = self._write(name + ".ext", "[ext]\n" + ext)
        _run("openssl", "req", "-new", "-key", key, "-out", csr,
             "-subj", subject, "-config", self.conf)
        when = ["-enddate", enddate] if enddate else ["-days", "825"]
        _run("openssl", "ca", "-batch", "-notext", "-config", self.conf,
             "-cert", issuer.cert, "-keyfile", issuer.key, "-in", csr,
             "-out", cert, "-extfile", extfile, "-extensions", "ext", *when)
        return Identity(cert, key)

    def idevid(self, serial, issuer=None, masa_url=None, mud_url=None):
        """An 802.1AR IDevID for the device serial."""
        url = masa_url or self.masa_url
        ext = LEAF_EXT + (
            "%s = ASN1:IA5STRING:%s\n" % (MASA_URL_OID, url) +
            "%s = ASN1:IA5STRING:%s\n" % (
                MUD_URL_OID, mud_url or "%s/mud/%s.json" % (url, serial)))
        return self.issue("idevid-" + serial,
                          "/serialNumber=%s/CN=pledge %s" % (serial, serial),
                          issuer or self.mfg_ca, ext,
                          enddate="99991231235959Z")


def make(directory, masa_port=8443):
    """Makes the fixed part of the PKI in directory; returns the Pki."""
    p = Pki(directory, masa_port)
    p.mfg_ca = p.root("mfg_ca", "Manufacturer CA")
    p.other_mfg_ca = p.root("other_mfg_ca", "Other Manufacturer CA")
    p.masa_ca = p.root("masa_ca", "MASA CA")
    p.masa = p.issue("masa", "/CN=MASA voucher signer", p.masa_ca, LEAF_EXT)
    p.masa_tls = p.issue("masa_tls", "/CN=127.0.0.1", p.masa_ca,
                         LEAF_EXT + "subjectAltName = IP:127.0.0.1\n"
                         "extendedKeyUsage = serverAuth\n")
    p.wrong_masa = p.issue("wrong_masa", "/CN=Wrong MASA", p.other_mfg_ca,
                           LEAF_EXT)
    p.domain_ca = p.root("domain_ca", "Domain CA")
    p.other_domain_ca = p.root("other_domain_ca", "Other Domain CA")
    p.registrar = p.issue(
        "registrar", "/CN=registrar", p.domain_ca, rsa=True,
        ext=LEAF_EXT + "subjectAltName = IP:127.0.0.1\n"
        "extendedKeyUsage = serverAuth, clientAuth, %s\n" % CMC_RA_OID)
    return p
