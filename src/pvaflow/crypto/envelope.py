"""Sealing byte payloads: AES-256-GCM under rotating data keys wrapped with RSA-OAEP, optional RSA-PSS signature.

A ``Sealer`` encrypts payloads for the public half of a key pair; an
``Opener`` holding the private key decrypts them. The AES-GCM associated
data binds the object id, the data key id and the format, so changing any
of them, the nonce or the ciphertext makes decryption fail. A data key is
used for at most ``key_objects`` payloads or ``key_seconds`` seconds, so
the RSA cost is paid once per key, not per payload; nonces are a counter
per key, so they never repeat under one key. A signature (RSA-PSS,
SHA-256) covers the object id and the SHA-256 digest of the plaintext:
only the private key holder can make one, so with verification on, an
object made by anyone who has just the public key is rejected.

An ``Opener`` opens each sealed payload once: a payload whose data key and
nonce it has opened before is a replay and is rejected, as is one under a
data key it has retired (dropped from its cache of ``cache_size`` keys; the
last ``RETIRED_KEYS`` retired key ids are remembered).
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import IntegrityError, SignatureError
from .keys import public_key_id

CIPHER_NAME = "AES-256-GCM"
KEY_WRAP_NAME = "RSA-OAEP-SHA256"
SIGNATURE_NAME = "RSA-PSS-SHA256"
KEY_BYTES = 32
KEY_ID_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
_SLACK = 15  # cryptography's update_into wants block size - 1 spare bytes after the output
_AAD_PREFIX = b"pvaflow-encrypted-1\0"
_SIGNED_PREFIX = b"pvaflow-signed-1\0"
_OBJECT_ID = struct.Struct(">Q")
RETIRED_KEYS = 65536  # retired data key ids remembered (16 bytes each)
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


@dataclass
class Sealed:
    """An encrypted payload and what its reader needs besides the private key."""

    object_id: int
    ciphertext: np.ndarray  # uint8: encrypted payload followed by the 16-byte GCM tag
    wrapped_key: bytes
    key_id: bytes
    public_key_id: str
    nonce: bytes
    signature: bytes = b""
    cipher: str = CIPHER_NAME


def _associated_data(object_id: int, key_id: bytes) -> bytes:
    return _AAD_PREFIX + _OBJECT_ID.pack(object_id) + key_id


def _signed_message(object_id: int, digest: bytes) -> bytes:
    return _SIGNED_PREFIX + _OBJECT_ID.pack(object_id) + digest


class _DataKey:
    def __init__(self, public_key: rsa.RSAPublicKey, now: float) -> None:
        self.key = os.urandom(KEY_BYTES)
        self.key_id = os.urandom(KEY_ID_BYTES)
        self.wrapped = public_key.encrypt(self.key, _OAEP)
        self.created = now
        self.n_used = 0

    def next_nonce(self) -> bytes:
        nonce = self.n_used.to_bytes(NONCE_BYTES, "big")
        self.n_used += 1
        return nonce


class Sealer:
    """Encrypts payloads for a public key; signs them when given the private key and asked to."""

    def __init__(self, public_key: rsa.RSAPublicKey, private_key: rsa.RSAPrivateKey | None = None,
                 key_objects: int = 1000, key_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if key_objects < 1 or key_seconds <= 0:
            raise ValueError("a data key must be usable for at least one object and a positive time")
        self.key_objects = key_objects
        self.key_seconds = key_seconds
        self.clock = clock
        self.n_keys = 0
        self.use_key(public_key, private_key)

    def use_key(self, public_key: rsa.RSAPublicKey, private_key: rsa.RSAPrivateKey | None = None) -> None:
        """Encrypt for another key pair from now on (the next payload gets a new data key)."""
        self.public_key = public_key
        self.private_key = private_key
        self.public_key_id = public_key_id(public_key)
        self.data_key: _DataKey | None = None

    def current_key(self) -> _DataKey:
        now = self.clock()
        key = self.data_key
        if key is None or key.n_used >= self.key_objects or now - key.created >= self.key_seconds:
            key = self.data_key = _DataKey(self.public_key, now)
            self.n_keys += 1
        return key

    def seal(self, parts: Iterable[bytes | memoryview], size: int, object_id: int, sign: bool = False) -> Sealed:
        """Encrypt the concatenation of ``parts`` (``size`` bytes in all) as object ``object_id``."""
        if sign and self.private_key is None:
            raise ValueError("signing needs the private key")
        key = self.current_key()
        nonce = key.next_nonce()
        encryptor = Cipher(algorithms.AES(key.key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_associated_data(object_id, key.key_id))
        digest = hashlib.sha256() if sign else None
        output = np.empty(size + TAG_BYTES + _SLACK, dtype=np.uint8)
        written = 0
        for part in parts:
            if digest is not None:
                digest.update(part)
            written += encryptor.update_into(part, output[written:])
        encryptor.finalize()
        if written != size:
            raise ValueError(f"payload has {written} bytes, not the {size} declared")
        output[size:size + TAG_BYTES] = np.frombuffer(encryptor.tag, dtype=np.uint8)
        signature = b""
        if digest is not None:
            signature = self.private_key.sign(_signed_message(object_id, digest.digest()), _PSS, hashes.SHA256())
        return Sealed(object_id, output[:size + TAG_BYTES], key.wrapped, key.key_id, self.public_key_id,
                      nonce, signature)


class Opener:
    """Decrypts sealed payloads with a private key; keeps recently unwrapped data keys."""

    def __init__(self, private_key: rsa.RSAPrivateKey, cache_size: int = 64) -> None:
        self.cache_size = cache_size
        self.n_unwrapped = 0
        self.use_key(private_key)

    def use_key(self, private_key: rsa.RSAPrivateKey) -> None:
        """Decrypt with another private key from now on (the data keys unwrapped so far are forgotten)."""
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.public_key_id = public_key_id(self.public_key)
        self.keys: OrderedDict[bytes, tuple[bytes, bytes]] = OrderedDict()  # key id -> (wrapped, key)
        self.opened: dict[bytes, set[bytes]] = {}  # key id -> nonces opened under it (cached keys only)
        self.retired: OrderedDict[bytes, None] = OrderedDict()  # key ids dropped from the cache

    def data_key(self, sealed: Sealed) -> bytes:
        if sealed.key_id in self.retired:
            raise IntegrityError(f"object {sealed.object_id}: its data key was retired {len(self.keys)} keys ago "
                                 "(a replay, or held back far too long)")
        cached = self.keys.get(sealed.key_id)
        if cached is not None and cached[0] == sealed.wrapped_key:
            self.keys.move_to_end(sealed.key_id)
            return cached[1]
        try:
            key = self.private_key.decrypt(sealed.wrapped_key, _OAEP)
        except ValueError:
            raise IntegrityError(f"object {sealed.object_id}: its data key cannot be unwrapped with this "
                                 "private key (corrupt key or another key pair)") from None
        if len(key) != KEY_BYTES:
            raise IntegrityError(f"object {sealed.object_id}: unwrapped data key has {len(key)} bytes, "
                                 f"not {KEY_BYTES}")
        self.n_unwrapped += 1
        self.keys[sealed.key_id] = (sealed.wrapped_key, key)
        if len(self.keys) > self.cache_size:
            retired, _ = self.keys.popitem(last=False)
            self.opened.pop(retired, None)
            self.retired[retired] = None
            if len(self.retired) > RETIRED_KEYS:
                self.retired.popitem(last=False)
        return key

    def open(self, sealed: Sealed, verify: bool = False, once: bool = True) -> memoryview:
        """The plaintext of ``sealed``; IntegrityError (SignatureError for signatures) when it is not authentic,
        or (``once``) when it was opened before."""
        name = f"object {sealed.object_id}"
        if sealed.cipher != CIPHER_NAME:
            raise IntegrityError(f"{name}: unsupported cipher {sealed.cipher!r:.40} (supported: {CIPHER_NAME})")
        if sealed.public_key_id != self.public_key_id:
            raise IntegrityError(f"{name} was encrypted for key {sealed.public_key_id!r:.40}; "
                                 f"this private key is {self.public_key_id}")
        if len(sealed.nonce) != NONCE_BYTES or len(sealed.key_id) != KEY_ID_BYTES:
            raise IntegrityError(f"{name}: nonce or key id has the wrong length")
        size = sealed.ciphertext.size - TAG_BYTES
        if size < 0:
            raise IntegrityError(f"{name}: ciphertext is shorter than its authentication tag")
        ciphertext = memoryview(np.ascontiguousarray(sealed.ciphertext, dtype=np.uint8)).cast("B")
        decryptor = Cipher(algorithms.AES(self.data_key(sealed)),
                           modes.GCM(sealed.nonce, bytes(ciphertext[size:]))).decryptor()
        decryptor.authenticate_additional_data(_associated_data(sealed.object_id, sealed.key_id))
        output = bytearray(size + _SLACK)
        written = decryptor.update_into(ciphertext[:size], output)
        try:
            decryptor.finalize()
        except InvalidTag:
            raise IntegrityError(f"{name}: authentication failed (ciphertext, nonce, object id or key id "
                                 "changed: tampered or corrupt)") from None
        plaintext = memoryview(output)[:written]
        if verify:
            self.verify(sealed, plaintext)
        opened = self.opened.setdefault(sealed.key_id, set())
        if not once:
            return plaintext
        if sealed.nonce in opened:
            raise IntegrityError(f"{name} was opened before (the same data key and nonce): a replay")
        opened.add(sealed.nonce)
        return plaintext

    def verify(self, sealed: Sealed, plaintext: memoryview) -> None:
        if not sealed.signature:
            raise SignatureError(f"object {sealed.object_id} is not signed, and verify is on")
        message = _signed_message(sealed.object_id, hashlib.sha256(plaintext).digest())
        try:
            self.public_key.verify(sealed.signature, message, _PSS, hashes.SHA256())
        except InvalidSignature:
            raise SignatureError(f"object {sealed.object_id}: signature verification failed") from None
