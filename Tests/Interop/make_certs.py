#!/usr/bin/env python3
"""Writes a throw-away test PKI for the interop runs, using the `cryptography` package.

    make_certs.py OUTDIR

OUTDIR/ca.pem, ca.key          self-signed test CA
OUTDIR/server.pem, server.key  server certificate for localhost, 127.0.0.1, ::1 and *.test.google.fr
                               (foo.test.google.fr is the name interop clients pass as --server_host_override)
OUTDIR/client.pem, client.key  client certificate (CN skyport-interop-client) for mutual TLS
"""

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skyport interop test"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write(path, data, private=False):
    with open(path, "wb") as f:
        f.write(data)
    if private:
        os.chmod(path, 0o600)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _issue(ca_key, ca_cert, common_name, sans, usage):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Skyport interop test CA"))
        .issuer_name(_name("Skyport interop test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key, server_cert = _issue(ca_key, ca_cert, "localhost", [
        x509.DNSName("localhost"),
        x509.DNSName("foo.test.google.fr"),
        x509.DNSName("*.test.google.fr"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ], ExtendedKeyUsageOID.SERVER_AUTH)
    client_key, client_cert = _issue(ca_key, ca_cert, "skyport-interop-client", [
        x509.DNSName("skyport-interop-client"),
    ], ExtendedKeyUsageOID.CLIENT_AUTH)

    pem = serialization.Encoding.PEM
    _write(os.path.join(out, "ca.pem"), ca_cert.public_bytes(pem))
    _write(os.path.join(out, "ca.key"), _key_pem(ca_key), private=True)
    _write(os.path.join(out, "server.pem"), server_cert.public_bytes(pem))
    _write(os.path.join(out, "server.key"), _key_pem(server_key), private=True)
    _write(os.path.join(out, "client.pem"), client_cert.public_bytes(pem))
    _write(os.path.join(out, "client.key"), _key_pem(client_key), private=True)
    print(f"make_certs: wrote CA, server and client certificates to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
