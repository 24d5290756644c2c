"""Encryption processors on real PvObjects: round trips, key formats, signing, tampering, rotation, reconfiguration."""

from __future__ import annotations

import dataclasses

import numpy as np
import pvaccess as pva
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from pvaflow import ntnd
from pvaflow.crypto.envelope import Opener, Sealer
from pvaflow.crypto.keys import load_private_key, public_key_id
from pvaflow.errors import ConfigError, FrameFormatError, IntegrityError, SerializationError, SignatureError
from pvaflow.processors.encryption import (
    ENCRYPTED_TYPE_ID,
    AdImageDataDecryptor,
    AdImageDataEncryptor,
    DataDecryptor,
    DataEncryptor,
    encrypted_object,
    sealed_from,
)
from pvaflow.pvbytes import Serializer

from ..keyfiles import PASSPHRASE, write_key_files
from ..pv_compare import assert_same

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, str]:
    paths = write_key_files(tmp_path_factory.mktemp("keys"))
    other = write_key_files(tmp_path_factory.mktemp("other"))
    return {**{name: str(path) for name, path in paths.items()}, "other": str(other["pkcs8.pem"])}


def frame(image_id: int, size: int = 64) -> pva.PvObject:
    image = np.random.default_rng(image_id).integers(0, 65535, (size, size + 8), dtype=np.uint16)
    nt = ntnd.generate(image_id, image)
    ntnd.stamp(nt, image_id, 1700000000.5 + image_id)
    ntnd.set_attributes(nt, {"Exposure": 0.25, "Detector": "sim"})
    return nt


def pair(keys, sign=False, verify=False, **extra) -> tuple[AdImageDataEncryptor, AdImageDataDecryptor]:
    encryptor = AdImageDataEncryptor({"privateKeyFilePath": keys["pkcs8.pem"], "sign": sign, **extra})
    decryptor = AdImageDataDecryptor({"privateKeyFilePath": keys["pkcs8.pem"], "verify": verify})
    decryptor.objectIdField = "objectId"
    return encryptor, decryptor


def changed(encrypted: pva.PvObject, **fields) -> pva.PvObject:
    sealed = dataclasses.replace(sealed_from(encrypted), **fields)
    return encrypted_object(sealed)


# --- keys -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pkcs1.pem", "pkcs8.pem", "id_rsa", "pkcs8-passphrase.pem",
                                  "pkcs1-passphrase.pem"])
def test_every_key_format_encrypts_for_the_same_key_pair(keys, name, monkeypatch) -> None:
    monkeypatch.setenv("TEST_KEY_PASSPHRASE", PASSPHRASE)
    config = {"privateKeyFilePath": keys[name], "sign": True}
    if "passphrase" in name:
        config["privateKeyPassphraseEnv"] = "TEST_KEY_PASSPHRASE"
    encryptor = DataEncryptor(config)
    _, decryptor = pair(keys, verify=True)
    original = frame(3)
    assert_same(original, decryptor.process(encryptor.process(original)))


def test_bad_key_files_are_refused_with_one_line(keys, tmp_path, monkeypatch) -> None:
    (tmp_path / "garbage.pem").write_text("not a key")
    (tmp_path / "ed25519.pem").write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "small.pem").write_bytes(rsa.generate_private_key(65537, 1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "truncated.pem").write_bytes(open(keys["pkcs8.pem"], "rb").read()[:300])
    monkeypatch.setenv("WRONG_PASSPHRASE", "wrong")
    monkeypatch.setenv("RIGHT_PASSPHRASE", PASSPHRASE)
    # the encrypted key with its middle line replaced: decrypts to garbage, as a wrong passphrase can
    lines = open(keys["pkcs8-passphrase.pem"], "rb").read().splitlines()
    lines[len(lines) // 2] = b"A" * len(lines[len(lines) // 2])
    (tmp_path / "damaged-passphrase.pem").write_bytes(b"\n".join(lines) + b"\n")
    cases = [
        ({}, "privateKeyFilePath .* must be given"),
        ({"privateKeyFilePath": str(tmp_path / "missing.pem")}, "cannot read private key file"),
        ({"privateKeyFilePath": str(tmp_path / "garbage.pem")}, "not a private key in PEM"),
        ({"privateKeyFilePath": str(tmp_path / "truncated.pem")}, "not a private key in PEM"),
        ({"privateKeyFilePath": str(tmp_path / "ed25519.pem")}, "not an RSA key"),
        ({"privateKeyFilePath": str(tmp_path / "small.pem")}, "1024-bit RSA key"),
        ({"privateKeyFilePath": keys["pkcs8-passphrase.pem"]}, "is encrypted: set privateKeyPassphraseEnv"),
        ({"privateKeyFilePath": keys["pkcs8-passphrase.pem"], "privateKeyPassphraseEnv": "WRONG_PASSPHRASE"},
         "wrong passphrase"),
        ({"privateKeyFilePath": str(tmp_path / "damaged-passphrase.pem"),
          "privateKeyPassphraseEnv": "RIGHT_PASSPHRASE"},
         r"wrong passphrase for private key file .* \(or the file is damaged\)"),
        ({"privateKeyFilePath": keys["pkcs8-passphrase.pem"], "privateKeyPassphraseEnv": "NOT_SET_ANYWHERE"},
         "NOT_SET_ANYWHERE .* is not set"),
        ({"privateKeyFilePath": keys["pkcs8.pem"], "sign": "yes"}, "sign must be true or false"),
        ({"privateKeyFilePath": keys["pkcs8.pem"], "sign": 2}, r"sign must be true or false \(or 1 or 0\), not 2"),
        ({"privateKeyFilePath": keys["pkcs8.pem"], "keyRotationObjects": 0}, "keyRotationObjects must be"),
    ]
    for config, message in cases:
        with pytest.raises(ConfigError, match=message) as caught:
            DataEncryptor(config)
        assert "\n" not in str(caught.value)


def test_public_key_id_is_the_same_for_every_format_of_one_key(keys) -> None:
    ids = {public_key_id(load_private_key(keys[name]).public_key()) for name in ("pkcs1.pem", "pkcs8.pem", "id_rsa")}
    assert len(ids) == 1 and len(ids.pop()) == 16


# --- round trips ------------------------------------------------------------------
def test_ad_image_round_trip_is_bit_exact_with_attributes_and_time_stamps(keys) -> None:
    encryptor, decryptor = pair(keys)
    original = frame(7)
    encrypted = encryptor.process(original)
    assert str(encrypted).splitlines()[0].strip() == ENCRYPTED_TYPE_ID
    assert encrypted["objectId"] == 7 and encrypted["cipher"]["name"] == "AES-256-GCM"
    assert len(encrypted["nonce"]) == 12 and len(encrypted["signature"]) == 0
    image_bytes = ntnd.reshape(original).image.tobytes()
    assert image_bytes[:64] not in encrypted["data"].tobytes(), "the image is not in clear"
    decrypted = decryptor.process(encrypted)
    assert_same(original, decrypted)
    assert ntnd.reshape(decrypted).image.tobytes() == image_bytes
    assert ntnd.attribute_values(decrypted) == {"ColorMode": 0, "Exposure": 0.25, "Detector": "sim"}
    stats = encryptor.getStats()
    assert stats["nEncrypted"] == 1 and stats["nBytesEncrypted"] > len(image_bytes) and stats["nFailed"] == 0
    assert decryptor.getStats()["nDecrypted"] == 1
    assert set(stats) == set(encryptor.getStatsPvaTypes())
    assert set(decryptor.getStats()) == set(decryptor.getStatsPvaTypes())


def test_generic_objects_round_trip(keys) -> None:
    encryptor = DataEncryptor({"privateKeyFilePath": keys["pkcs1.pem"]})
    encryptor.objectIdField = "counter"
    decryptor = DataDecryptor({"privateKeyFilePath": keys["id_rsa"]})
    original = pva.PvObject({"counter": pva.ULONG, "values": [pva.DOUBLE], "info": {"name": pva.STRING}},
                            {"counter": 12, "values": [1.5, -2.0], "info": {"name": "x"}}, "my:type:1.0")
    encrypted = encryptor.process(original)
    assert encrypted["objectId"] == 12
    decrypted = decryptor.process(encrypted)
    assert str(decrypted) == str(original)
    assert str(decryptor.getOutputPvObjectType(encrypted)) == str(original)


def test_ad_image_variants_refuse_other_objects(keys) -> None:
    encryptor, decryptor = pair(keys)
    other = pva.PvObject({"uniqueId": pva.INT}, {"uniqueId": 1}, "not:an:image")
    with pytest.raises(FrameFormatError, match="not an NTNDArray"):
        encryptor.process(other)
    generic = DataEncryptor({"privateKeyFilePath": keys["pkcs8.pem"]})
    with pytest.raises(FrameFormatError, match="decrypts to 'not:an:image'"):
        decryptor.process(generic.process(other))
    assert encryptor.getStats()["nFailed"] == 1 and decryptor.getStats()["nFailed"] == 1
    assert str(decryptor.getOutputPvObjectType()) == str(pva.NtNdArray())


# --- authenticity -------------------------------------------------------------------
def test_flags_take_pvapys_1_and_0(keys) -> None:
    # pvaPy's documented command line: -pa '{"privateKeyFilePath": ..., "sign": 1}' and '{"verify": 1}'
    encryptor = AdImageDataEncryptor({"privateKeyFilePath": keys["pkcs8.pem"], "sign": 1})
    decryptor = AdImageDataDecryptor({"privateKeyFilePath": keys["pkcs8.pem"], "verify": 1})
    assert encryptor.sign is True and decryptor.verify is True
    decryptor.configure({"verify": 0})
    assert decryptor.verify is False


def test_sign_and_verify(keys) -> None:
    encryptor, decryptor = pair(keys, sign=True, verify=True)
    encrypted = encryptor.process(frame(1))
    assert len(encrypted["signature"]) == 256 and encrypted["cipher"]["signature"] == "RSA-PSS-SHA256"
    assert_same(frame(1), decryptor.process(encrypted))
    other_signer = Sealer(load_private_key(keys["pkcs8.pem"]).public_key(), load_private_key(keys["other"]))
    serialized = Serializer().serialize(frame(2))
    wrongly_signed = encrypted_object(other_signer.seal(serialized.parts(), serialized.size, 2, sign=True))
    with pytest.raises(SignatureError, match="signature verification failed"):
        decryptor.process(wrongly_signed)
    assert decryptor.getStats()["nVerificationFailures"] == 1


def test_a_forgery_made_with_the_public_key_alone_is_rejected_when_verify_is_on(keys) -> None:
    public_key = load_private_key(keys["pkcs8.pem"]).public_key()
    forger = Sealer(public_key)  # anyone may hold the public key
    serialized = Serializer().serialize(frame(9))
    forged = encrypted_object(forger.seal(serialized.parts(), serialized.size, 9))
    _, trusting = pair(keys, verify=False)
    assert_same(frame(9), trusting.process(forged))  # without verify, it decrypts: that is what verify is for
    _, verifying = pair(keys, verify=True)
    with pytest.raises(SignatureError, match="not signed, and verify is on"):
        verifying.process(forged)
    stats = verifying.getStats()
    assert stats["nFailed"] == 1 and stats["nVerificationFailures"] == 1 and stats["nDecrypted"] == 0


def flip_byte(array: np.ndarray, index: int) -> np.ndarray:
    copy = np.array(array, dtype=np.uint8)
    copy[index] ^= 0x01
    return copy


@pytest.mark.parametrize("what, change, message", [
    ("ciphertext", lambda s: {"ciphertext": flip_byte(s.ciphertext, 100)}, "authentication failed"),
    ("tag", lambda s: {"ciphertext": flip_byte(s.ciphertext, -1)}, "authentication failed"),
    ("object id", lambda s: {"object_id": s.object_id + 1}, "authentication failed"),
    ("key id", lambda s: {"key_id": bytes(16)}, "authentication failed"),
    ("nonce", lambda s: {"nonce": bytes(flip_byte(np.frombuffer(s.nonce, np.uint8), 11))}, "authentication failed"),
    ("wrapped key", lambda s: {"wrapped_key": bytes(flip_byte(np.frombuffer(s.wrapped_key, np.uint8), 5))},
     "cannot be unwrapped"),
    ("truncated data", lambda s: {"ciphertext": s.ciphertext[:-100]}, "authentication failed"),
    ("data shorter than a tag", lambda s: {"ciphertext": s.ciphertext[:10]}, "shorter than its authentication tag"),
    ("unknown cipher", lambda s: {"cipher": "ROT13"}, "unsupported cipher 'ROT13'"),
    ("nonce length", lambda s: {"nonce": bytes(3)}, "wrong length"),
])
def test_tampered_objects_are_rejected_counted_and_the_next_one_decrypts(keys, what, change, message) -> None:
    encryptor, decryptor = pair(keys)
    encrypted = encryptor.process(frame(1))
    tampered = changed(encrypted, **change(sealed_from(encrypted)))
    with pytest.raises(IntegrityError, match=message) as caught:
        decryptor.process(tampered)
    assert "\n" not in str(caught.value)
    assert_same(frame(2), decryptor.process(encryptor.process(frame(2))))
    stats = decryptor.getStats()
    assert (stats["nFailed"], stats["nDecrypted"]) == (1, 1), what


def test_a_cached_data_key_is_not_used_for_a_different_wrapped_key(keys) -> None:
    encryptor, decryptor = pair(keys)
    first = encryptor.process(frame(1))
    decryptor.process(first)
    other = AdImageDataEncryptor({"privateKeyFilePath": keys["pkcs8.pem"]}).process(frame(2))
    posing = changed(other, key_id=sealed_from(first).key_id)  # same key id, another wrapped key
    with pytest.raises(IntegrityError, match="authentication failed"):
        decryptor.process(posing)


def test_a_replayed_object_is_rejected_and_a_retired_data_key_too(keys) -> None:
    encryptor, decryptor = pair(keys, keyRotationObjects=2)
    encrypted = [encryptor.process(frame(image_id)) for image_id in range(1, 5)]
    decryptor.getOutputPvObjectType(encrypted[0])  # a look at the type does not count as opening it
    for pv in encrypted[:3]:
        decryptor.process(pv)
    with pytest.raises(IntegrityError, match="object 2 was opened before .*: a replay"):
        decryptor.process(encrypted[1])
    decryptor.process(encrypted[3])
    decryptor.opener.cache_size = 1  # the next data key retires the oldest ones
    decryptor.process(encryptor.process(frame(5)))
    with pytest.raises(IntegrityError, match="object 1: its data key was retired"):
        decryptor.process(encrypted[0])
    assert (decryptor.getStats()["nDecrypted"], decryptor.getStats()["nFailed"]) == (5, 2)


def test_wrong_key_and_foreign_objects_are_rejected(keys) -> None:
    encryptor, _ = pair(keys)
    wrong = AdImageDataDecryptor({"privateKeyFilePath": keys["other"]})
    with pytest.raises(IntegrityError, match="was encrypted for key '[0-9a-f]{16}'; this private key is"):
        wrong.process(encryptor.process(frame(1)))
    with pytest.raises(IntegrityError, match="not an encrypted object"):
        wrong.process(frame(1))
    assert wrong.getStats()["nFailed"] == 2


# --- data keys ----------------------------------------------------------------------
def test_data_keys_rotate_by_count_and_the_decryptor_unwraps_each_once(keys) -> None:
    encryptor, decryptor = pair(keys, keyRotationObjects=3)
    encrypted = [encryptor.process(frame(image_id)) for image_id in range(1, 8)]
    key_ids = [bytes(pv["keyId"]) for pv in encrypted]
    assert len(set(key_ids)) == 3 and key_ids[0] == key_ids[2] != key_ids[3]
    nonces = {(bytes(pv["keyId"]), bytes(pv["nonce"])) for pv in encrypted}
    assert len(nonces) == 7, "no nonce repeats under a key"
    for pv in encrypted:
        decryptor.process(pv)
    assert encryptor.getStats()["nDataKeys"] == 3
    assert decryptor.getStats()["nDataKeysUnwrapped"] == 3


def test_data_keys_rotate_by_time(keys) -> None:
    now = [0.0]
    key = load_private_key(keys["pkcs8.pem"])
    sealer = Sealer(key.public_key(), key, key_objects=1000, key_seconds=10, clock=lambda: now[0])
    opener = Opener(key)
    first = sealer.seal([b"a"], 1, 1)
    now[0] = 9.9
    second = sealer.seal([b"b"], 1, 2)
    now[0] = 10.0
    third = sealer.seal([b"c"], 1, 3)
    assert first.key_id == second.key_id != third.key_id
    assert bytes(opener.open(third)) == b"c" and bytes(opener.open(first)) == b"a"


def test_key_path_changes_at_runtime_and_a_bad_one_changes_nothing(keys) -> None:
    encryptor, decryptor = pair(keys)
    encryptor.configure({"privateKeyFilePath": keys["other"]})
    encrypted = encryptor.process(frame(1))
    with pytest.raises(IntegrityError, match="was encrypted for key"):
        decryptor.process(encrypted)
    with pytest.raises(ConfigError, match="cannot read private key file"):
        decryptor.configure({"privateKeyFilePath": "/nonexistent/key.pem", "verify": True})
    assert decryptor.verify is False and decryptor.privateKeyFilePath == keys["pkcs8.pem"]
    decryptor.configure({"privateKeyFilePath": keys["other"]})
    assert_same(frame(1), decryptor.process(encrypted))
    encryptor.configure({"sign": True})
    assert len(encryptor.process(frame(2))["signature"]) == 256


def test_statistics_survive_key_changes(keys) -> None:
    encryptor, decryptor = pair(keys, keyRotationObjects=2)
    for image_id in (1, 2, 3):
        decryptor.process(encryptor.process(frame(image_id)))
    encryptor.configure({"privateKeyFilePath": keys["other"], "keyRotationObjects": 5})
    decryptor.configure({"privateKeyFilePath": keys["other"]})
    decryptor.process(encryptor.process(frame(4)))
    assert encryptor.getStats()["nDataKeys"] == 3 and decryptor.getStats()["nDataKeysUnwrapped"] == 3
    encryptor.resetStats()
    decryptor.resetStats()
    decryptor.process(encryptor.process(frame(5)))
    assert encryptor.getStats()["nDataKeys"] == 0 and decryptor.getStats()["nDataKeysUnwrapped"] == 0


def test_a_negative_object_id_is_refused(keys) -> None:
    encryptor, _ = pair(keys)
    negative = frame(3)
    negative["uniqueId"] = -3
    with pytest.raises(SerializationError, match="is not an integer >= 0"):
        encryptor.process(negative)
