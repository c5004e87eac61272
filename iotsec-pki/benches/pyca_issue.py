"""Python `cryptography` (OpenSSL) issuing certificates equivalent to iotsec-pki's profile:
parse + verify a P-256 CSR, sign a P-256 end-entity certificate with KU/EKU/BC/SAN/CRL DP/AKI/SKI.
Prints issuances per second."""
import datetime, sys, time
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuing CA")])
dev_key = ec.generate_private_key(ec.SECP256R1())
csr_der = (x509.CertificateSigningRequestBuilder()
    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev-0001")]))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("dev-0001.devices.invalid")]), False)
    .sign(dev_key, hashes.SHA256())).public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER)
ski_ca = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
start = time.perf_counter()
for _ in range(n):
    csr = x509.load_der_x509_csr(csr_der)
    assert csr.is_signature_valid
    now = datetime.datetime.now(datetime.timezone.utc)
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    cert = (x509.CertificateBuilder()
        .subject_name(csr.subject).issuer_name(ca_name).public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=24))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(san, False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier("http://127.0.0.1/crl.der")], None, None, None)]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski_ca), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), False)
        .sign(ca_key, hashes.SHA256()))
    cert.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER)
elapsed = time.perf_counter() - start
print(f"{n / elapsed:.0f}")
