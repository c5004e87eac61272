"""Independent SUIT envelope checker (cbor2 + pycose), the peer of iotsec-ota's `suit` module.

verify ENVELOPE ALG PUBLIC_HEX -> prints the sequence number if the SUIT_Digest matches the
                                  bstr-wrapped manifest, every severable member present matches
                                  its digest, and every COSE_Sign1 verifies (detached payload:
                                  the bstr-wrapped SUIT_Digest); exit 1 otherwise
seal MANIFEST SEED_HEX OUT     -> writes an envelope around MANIFEST, signed by pycose (EdDSA)
ALG is es256 (PUBLIC_HEX: uncompressed SEC1) or ed25519 (PUBLIC_HEX: 32 bytes).
"""
import hashlib
import sys

import cbor2
from pycose.headers import Algorithm
from pycose.keys import EC2Key, OKPKey
from pycose.keys.curves import P256, Ed25519
from pycose.messages import CoseMessage, Sign1Message


def key_for(alg, public):
    if alg == "ed25519":
        return OKPKey(crv=Ed25519, x=public)
    return EC2Key(crv=P256, x=public[1:33], y=public[33:65])


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


def verify(path, alg, public_hex):
    envelope = cbor2.loads(open(path, "rb").read())
    if not isinstance(envelope, cbor2.CBORTag) or envelope.tag != 107:
        fail("not a SUIT_Envelope_Tagged")
    members = envelope.value
    auth = cbor2.loads(members[2])
    digest_bstr = auth[0]
    algorithm_id, digest = cbor2.loads(digest_bstr)
    if algorithm_id != -16:
        fail("digest is not SHA-256")
    if hashlib.sha256(cbor2.dumps(members[3])).digest() != digest:
        fail("manifest digest mismatch")
    manifest = cbor2.loads(members[3])
    for key in (16, 20, 23):
        if key in members:
            held = manifest.get(key)
            if not isinstance(held, list):
                fail(f"member {key} not covered by a digest")
            if hashlib.sha256(cbor2.dumps(members[key])).digest() != held[1]:
                fail(f"member {key} digest mismatch")
    if len(auth) < 2:
        fail("unsigned")
    cose_key = key_for(alg, bytes.fromhex(public_hex))
    for block in auth[1:]:
        message = CoseMessage.decode(block)
        if not isinstance(message, Sign1Message):
            fail("not a COSE_Sign1")
        message.key = cose_key
        if not message.verify_signature(detached_payload=digest_bstr):
            fail("signature does not verify")
    print(manifest[2])


def seal(manifest_path, seed_hex, out_path):
    manifest = open(manifest_path, "rb").read()
    digest_bstr = cbor2.dumps([-16, hashlib.sha256(cbor2.dumps(manifest)).digest()])
    message = Sign1Message(phdr={Algorithm: "EdDSA"}, uhdr={}, payload=None)
    message.key = OKPKey(crv=Ed25519, d=bytes.fromhex(seed_hex))
    block = message.encode(tag=True, detached_payload=digest_bstr)
    auth = cbor2.dumps([digest_bstr, block])
    envelope = cbor2.dumps(cbor2.CBORTag(107, {2: auth, 3: manifest}))
    open(out_path, "wb").write(envelope)


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(*sys.argv[2:5])
    elif sys.argv[1] == "seal":
        seal(*sys.argv[2:5])
    else:
        sys.exit(2)
