"""Encryption processors: ``DataEncryptor`` / ``DataDecryptor`` for any PvObject, and the Area Detector variants.

Config keys (all changeable at runtime through ``configure()``):

- ``privateKeyFilePath`` (required): RSA private key, PEM (PKCS#1 or PKCS#8)
  or OpenSSH (``id_rsa``), at least 2048 bits;
- ``privateKeyPassphraseEnv``: name of the environment variable holding the
  key's passphrase, for an encrypted key file;
- ``sign`` (encryptor, default false): sign every object (RSA-PSS);
- ``keyRotationObjects`` / ``keyRotationSeconds`` (encryptor, defaults 1000
  and 60): a data key encrypts at most this many objects, for at most this
  long, before the next one is made;
- ``verify`` (decryptor, default false): reject objects that are not signed
  by the key pair's private key.

The decryptor opens every object once: a replayed object (one it decrypted
before) is rejected like a tampered one. The host counts rejected objects
in ``processorStats.nRejected`` and leaves their (unauthenticated) ids out
of its missed-object accounting.

The object is serialized with ``pvaflow.pvbytes`` (never pickle) and sealed
with ``pvaflow.crypto.envelope``; the published structure is
``ENCRYPTED_STRUCTURE`` (docs/reference/encryption.md). An object that
cannot be decrypted (wrong key, tampered or truncated data, failed
verification, unknown cipher) raises one line for the host to log and
count, is counted here, and the stream goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pvaccess as pva

from ..config_values import checked_flag, checked_int, checked_positive
from ..crypto.envelope import KEY_WRAP_NAME, SIGNATURE_NAME, Opener, Sealed, Sealer
from ..crypto.keys import load_private_key
from ..errors import ConfigError, FrameFormatError, IntegrityError, SerializationError, SignatureError
from ..processor import UserDataProcessor
from ..pvbytes import FORMAT_NAME, Deserializer, Serializer
from .counted_stats import CountedStats

ENCRYPTED_TYPE_ID = "pvaflow:EncryptedData:1.0"
ENCRYPTED_STRUCTURE = {
    "objectId": pva.ULONG,
    "data": [pva.UBYTE],  # ciphertext, then the 16-byte GCM tag
    "key": [pva.UBYTE],  # the data key, wrapped with RSA-OAEP
    "keyId": [pva.UBYTE],  # 16 random bytes naming the data key
    "publicKeyId": pva.STRING,  # fingerprint of the key pair the data key is wrapped for
    "nonce": [pva.UBYTE],
    "signature": [pva.UBYTE],  # empty unless signed
    "cipher": {"name": pva.STRING, "keyWrap": pva.STRING, "signature": pva.STRING, "format": pva.STRING},
}
NTNDARRAY_TYPE_ID = "epics:nt/NTNDArray:1.0"
BYTES_IN_MEGABYTE = 1000000
DEFAULT_KEY_ROTATION_OBJECTS = 1000
DEFAULT_KEY_ROTATION_SECONDS = 60.0


def _to_bytes(value: Any) -> bytes:
    return np.asarray(value, dtype=np.uint8).tobytes()


_ENCRYPTED_TEMPLATE = pva.PvObject(ENCRYPTED_STRUCTURE, {}, ENCRYPTED_TYPE_ID)


def encrypted_object(sealed: Sealed) -> pva.PvObject:
    """The published form of a sealed object."""
    encrypted = _ENCRYPTED_TEMPLATE.copy()  # cheaper than building the structure again
    encrypted.set({
        "objectId": sealed.object_id,
        "data": sealed.ciphertext,
        "key": np.frombuffer(sealed.wrapped_key, dtype=np.uint8),
        "keyId": np.frombuffer(sealed.key_id, dtype=np.uint8),
        "publicKeyId": sealed.public_key_id,
        "nonce": np.frombuffer(sealed.nonce, dtype=np.uint8),
        "signature": np.frombuffer(sealed.signature, dtype=np.uint8),
        "cipher": {"name": sealed.cipher, "keyWrap": KEY_WRAP_NAME,
                   "signature": SIGNATURE_NAME if sealed.signature else "", "format": FORMAT_NAME},
    })
    return encrypted


def sealed_from(pv: pva.PvObject) -> Sealed:
    """The sealed object a published encrypted object holds (IntegrityError if it is not one)."""
    try:
        fields = pv.toDict()
        cipher = fields["cipher"]
        sealed = Sealed(int(fields["objectId"]), np.asarray(fields["data"], dtype=np.uint8),
                        _to_bytes(fields["key"]), _to_bytes(fields["keyId"]), str(fields["publicKeyId"]),
                        _to_bytes(fields["nonce"]), _to_bytes(fields["signature"]), str(cipher["name"]))
        data_format = str(cipher["format"])
    except (KeyError, TypeError, ValueError) as ex:
        raise IntegrityError(f"input is not an encrypted object ({ENCRYPTED_TYPE_ID}): {ex}") from None
    if data_format != FORMAT_NAME:
        raise IntegrityError(f"object {sealed.object_id}: unknown data format {data_format!r:.40} "
                             f"(supported: {FORMAT_NAME})")
    return sealed


RATE_TYPES = {"processingRate": pva.DOUBLE, "dataRateMBps": pva.DOUBLE}  # what rates() returns


class _KeyConfig:
    """The key-file settings both directions share; the key is loaded before anything is applied."""

    def __init__(self) -> None:
        self.privateKeyFilePath: str | None = None
        self.privateKeyPassphraseEnv: str | None = None

    def load_key(self, config: dict[str, Any]) -> Any:
        """The private key the config names, or None if it names the current one."""
        path = config.get("privateKeyFilePath", self.privateKeyFilePath)
        variable = config.get("privateKeyPassphraseEnv", self.privateKeyPassphraseEnv)
        if not path or not isinstance(path, str):
            raise ConfigError("privateKeyFilePath (an RSA private key file) must be given")
        if variable is not None and not isinstance(variable, str):
            raise ConfigError(f"privateKeyPassphraseEnv must be an environment variable name, not {variable!r}")
        changed = path != self.privateKeyFilePath or variable != self.privateKeyPassphraseEnv
        if "privateKeyFilePath" not in config and not changed:
            return None
        key = load_private_key(path, variable)
        self.privateKeyFilePath, self.privateKeyPassphraseEnv = path, variable
        return key


class _KeyedProcessor(CountedStats, UserDataProcessor):
    """What both directions share: the key file settings and the timed, counted ``process()``."""


    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        super().__init__(configDict)
        self.keys = _KeyConfig()

    @property
    def privateKeyFilePath(self) -> str | None:  # noqa: N802 (pvaPy attribute name)
        return self.keys.privateKeyFilePath

    def timed(self, transform: Callable[[pva.PvObject], pva.PvObject], pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        """``transform`` the object and publish the result; the processing time covers both (as in pvaPy)."""
        started = time.perf_counter()
        try:
            output = transform(pvObject)
            self.updateOutputChannel(output)
        except Exception:
            self.nFailed += 1  # the host logs the error (once per kind) and counts it too
            raise
        finally:
            self.processingTime += time.perf_counter() - started
        return output

    def rates(self, n_objects: int, n_bytes: int) -> dict[str, float]:
        seconds = self.processingTime
        return {
            "processingRate": n_objects / seconds if seconds > 0 else 0.0,
            "dataRateMBps": n_bytes / seconds / BYTES_IN_MEGABYTE if seconds > 0 else 0.0,
        }


class DataEncryptor(_KeyedProcessor):
    """Encrypts every object (AES-256-GCM, RSA-OAEP wrapped data keys, optional RSA-PSS signature)."""

    COUNTERS: ClassVar[dict[str, Any]] = {"nEncrypted": pva.UINT, "nBytesEncrypted": pva.ULONG, "nFailed": pva.UINT,
                                          "processingTime": pva.DOUBLE}

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        super().__init__(configDict)
        self.sign = False
        self.keyRotationObjects = DEFAULT_KEY_ROTATION_OBJECTS
        self.keyRotationSeconds = DEFAULT_KEY_ROTATION_SECONDS
        self.serializer = Serializer()
        self.sealer: Sealer | None = None
        self.resetStats()
        self.configure(dict(configDict or {}))

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        """Check every given key first (loading a new key file), then apply them together."""
        sign = checked_flag("sign", configDict.get("sign", self.sign))
        objects = checked_int("keyRotationObjects", configDict.get("keyRotationObjects", self.keyRotationObjects), 1)
        seconds = checked_positive("keyRotationSeconds",
                                   configDict.get("keyRotationSeconds", self.keyRotationSeconds))
        key = self.keys.load_key(configDict)
        self.sign = sign
        self.keyRotationObjects, self.keyRotationSeconds = objects, seconds
        if self.sealer is None:
            self.sealer = Sealer(key.public_key(), key, objects, seconds)
            return
        self.sealer.key_objects, self.sealer.key_seconds = objects, seconds  # the current data key included
        if key is not None:
            self.sealer.use_key(key.public_key(), key)

    def check_input(self, type_id: str) -> None:
        """Subclasses: raise if objects with this type id must not be encrypted."""

    def encrypt(self, pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        object_id = pvObject[self.objectIdField]
        if not isinstance(object_id, int) or object_id < 0:
            raise SerializationError(f"object id {self.objectIdField}={object_id!r} is not an integer >= 0")
        serialized = self.serializer.serialize(pvObject)
        self.check_input(serialized.type_id)
        sealed = self.sealer.seal(serialized.parts(), serialized.size, object_id, self.sign)
        self.nBytesEncrypted += serialized.size
        return encrypted_object(sealed)

    def process(self, pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        encrypted = self.timed(self.encrypt, pvObject)
        self.nEncrypted += 1
        return encrypted

    def getOutputPvObjectType(self, pvObject: pva.PvObject | None = None) -> pva.PvObject:  # noqa: N802, N803
        return _ENCRYPTED_TEMPLATE.copy()

    def reset_derived(self) -> None:
        self.keys_at_reset = self.sealer.n_keys if self.sealer else 0

    def derived_stats(self) -> dict[str, Any]:
        return {"nDataKeys": self.sealer.n_keys - self.keys_at_reset,
                **self.rates(self.nEncrypted, self.nBytesEncrypted)}

    def derived_types(self) -> dict[str, Any]:
        return {"nDataKeys": pva.UINT} | RATE_TYPES


class DataDecryptor(_KeyedProcessor):
    """Decrypts objects made by ``DataEncryptor`` with the same key pair; rejects any that are not authentic."""

    COUNTERS: ClassVar[dict[str, Any]] = {"nDecrypted": pva.UINT, "nBytesDecrypted": pva.ULONG, "nFailed": pva.UINT,
                                          "nVerificationFailures": pva.UINT, "processingTime": pva.DOUBLE}

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        super().__init__(configDict)
        self.verify = False
        self.deserializer = Deserializer()
        self.opener: Opener | None = None
        self.resetStats()
        self.configure(dict(configDict or {}))

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        """Check every given key first (loading a new key file), then apply them together."""
        verify = checked_flag("verify", configDict.get("verify", self.verify))
        key = self.keys.load_key(configDict)
        self.verify = verify
        if key is not None and self.opener is None:
            self.opener = Opener(key)
        elif key is not None:
            self.opener.use_key(key)

    def check_output(self, type_id: str, sealed: Sealed) -> None:
        """Subclasses: raise if a decrypted object is not of the kind expected."""

    def decrypt(self, pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        sealed = sealed_from(pvObject)
        try:
            plaintext = self.opener.open(sealed, self.verify)
        except SignatureError:
            self.nVerificationFailures += 1
            raise
        self.check_output(self.deserializer.type_id(plaintext), sealed)
        decrypted = self.deserializer.deserialize(plaintext)
        self.nBytesDecrypted += plaintext.nbytes
        return decrypted

    def process(self, pvObject: pva.PvObject) -> pva.PvObject:  # noqa: N803
        decrypted = self.timed(self.decrypt, pvObject)
        self.nDecrypted += 1
        return decrypted

    def getOutputPvObjectType(self, pvObject: pva.PvObject | None = None) -> pva.PvObject:  # noqa: N802, N803
        """The structure of the decrypted first object (not counted); with none, the type is not known yet."""
        if pvObject is None:
            raise ValueError("the output type is known after the first object")
        return self.deserializer.deserialize(self.opener.open(sealed_from(pvObject), self.verify, once=False))

    def reset_derived(self) -> None:
        self.unwrapped_at_reset = self.opener.n_unwrapped if self.opener else 0

    def derived_stats(self) -> dict[str, Any]:
        return {"nDataKeysUnwrapped": self.opener.n_unwrapped - self.unwrapped_at_reset,
                **self.rates(self.nDecrypted, self.nBytesDecrypted)}

    def derived_types(self) -> dict[str, Any]:
        return {"nDataKeysUnwrapped": pva.UINT} | RATE_TYPES


class AdImageDataEncryptor(DataEncryptor):
    """``DataEncryptor`` for Area Detector frames: refuses input that is not an NTNDArray."""

    def check_input(self, type_id: str) -> None:
        if type_id != NTNDARRAY_TYPE_ID:
            raise FrameFormatError(f"input is not an NTNDArray (type id {type_id!r:.60})")


class AdImageDataDecryptor(DataDecryptor):
    """``DataDecryptor`` for Area Detector frames: its output channel is an NTNDArray from the start."""

    def check_output(self, type_id: str, sealed: Sealed) -> None:
        if type_id != NTNDARRAY_TYPE_ID:
            raise FrameFormatError(f"object {sealed.object_id} decrypts to {type_id!r:.60}, not an NTNDArray")

    def getOutputPvObjectType(self, pvObject: pva.PvObject | None = None) -> pva.PvObject:  # noqa: N802, N803
        return pva.NtNdArray()
