"""RSA private keys from files: PEM (PKCS#1, PKCS#8) and OpenSSH, with an optional passphrase."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import ConfigError

MIN_KEY_BITS = 2048
KEY_ID_HEX_DIGITS = 16
_OPENSSH_MARKER = b"-----BEGIN OPENSSH PRIVATE KEY-----"
_ENCRYPTED_PEM_MARKER = b"ENCRYPTED"  # PKCS#8: BEGIN ENCRYPTED PRIVATE KEY; PKCS#1: Proc-Type: 4,ENCRYPTED


def _passphrase(path: Path, variable: str | None) -> bytes | None:
    if not variable:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(f"environment variable {variable} (the passphrase of {path}) is not set")
    return value.encode()


def load_private_key(path: str | os.PathLike[str], passphrase_variable: str | None = None) -> rsa.RSAPrivateKey:
    """The RSA private key in ``path``; its passphrase, if any, is read from the named environment variable.

    Every failure is a ConfigError with one line that says what to fix.
    """
    key_path = Path(path)
    try:
        data = key_path.read_bytes()
    except OSError as ex:
        raise ConfigError(f"cannot read private key file {key_path}: {ex.strerror}") from None
    password = _passphrase(key_path, passphrase_variable)
    loader = serialization.load_ssh_private_key if _OPENSSH_MARKER in data else serialization.load_pem_private_key
    try:
        key = loader(data, password)
    except TypeError as ex:  # encrypted without a passphrase, or a passphrase for a key that has none
        if password is None:
            raise ConfigError(f"private key file {key_path} is encrypted: set privateKeyPassphraseEnv to the "
                              "name of an environment variable holding its passphrase") from None
        raise ConfigError(f"private key file {key_path}: {ex}") from None
    except ValueError as ex:
        # a wrong passphrase decrypts an encrypted PEM to garbage whose padding is valid 1 time in 120 or so
        # (measured): cryptography then says the data is not a key, not that the password is wrong
        if password is not None and (_ENCRYPTED_PEM_MARKER in data or "password" in str(ex).lower()
                                     or "decrypt" in str(ex).lower()):
            raise ConfigError(f"wrong passphrase for private key file {key_path} (or the file is damaged)") from None
        raise ConfigError(f"{key_path} is not a private key in PEM (PKCS#1, PKCS#8) or OpenSSH format") from None
    except Exception as ex:  # noqa: BLE001 (cryptography raises UnsupportedAlgorithm and others)
        raise ConfigError(f"cannot load private key file {key_path}: {ex}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removesuffix("PrivateKey").lstrip("_")
        raise ConfigError(f"{key_path} is not an RSA key (it holds a key of type {kind})")
    if key.key_size < MIN_KEY_BITS:
        raise ConfigError(f"{key_path} holds a {key.key_size}-bit RSA key; at least {MIN_KEY_BITS} bits are needed")
    return key


def public_key_id(key: rsa.RSAPublicKey) -> str:
    """A short fingerprint of a public key: the start of the SHA-256 of its SubjectPublicKeyInfo, in hex."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:KEY_ID_HEX_DIGITS]
