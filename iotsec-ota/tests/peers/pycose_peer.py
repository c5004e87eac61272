"""Independent COSE implementation (pycose) as the peer of iotsec-ota's COSE_Sign layer.

verify DOC KEYS_JSON   -> prints the number of signatures that verify with the listed keys
                          (exit 1 if any listed signer's signature fails)
sign PAYLOAD CONTENT_TYPE SEED_HEX KID_HEX OUT -> writes a COSE_Sign signed with Ed25519 by pycose
"""
import json
import sys

from pycose.headers import KID, Algorithm, ContentType
from pycose.keys import EC2Key, OKPKey
from pycose.keys.curves import P256, Ed25519
from pycose.messages import CoseMessage, SignMessage
from pycose.messages.signer import CoseSignature


def key_for(entry):
    public = bytes.fromhex(entry["public"])
    if entry["alg"] == "ed25519":
        return OKPKey(crv=Ed25519, x=public)
    return EC2Key(crv=P256, x=public[1:33], y=public[33:65])


def verify(doc_path, keys_path):
    keys = {k["kid"]: k for k in json.load(open(keys_path))}
    msg = CoseMessage.decode(open(doc_path, "rb").read())
    assert isinstance(msg, SignMessage), type(msg)
    valid = 0
    for signer in msg.signers:
        kid = signer.get_attr(KID).hex()
        entry = keys.get(kid)
        if entry is None:
            continue
        signer.key = key_for(entry)
        if not signer.verify_signature():
            print(f"signature by {kid} does not verify", file=sys.stderr)
            sys.exit(1)
        valid += 1
    print(valid)


def sign(payload_path, content_type, seed_hex, kid_hex, out_path):
    key = OKPKey(crv=Ed25519, d=bytes.fromhex(seed_hex))
    signer = CoseSignature(
        phdr={Algorithm: "EdDSA", KID: bytes.fromhex(kid_hex)}, uhdr={}, key=key
    )
    msg = SignMessage(
        phdr={ContentType: content_type},
        uhdr={},
        payload=open(payload_path, "rb").read(),
        signers=[signer],
    )
    open(out_path, "wb").write(msg.encode(tag=True))


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "sign":
        sign(*sys.argv[2:7])
    else:
        sys.exit(2)
