"""RSA key files in every format the encryption processors read, for tests."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PASSPHRASE = "correct horse"
FORMATS = {
    "pkcs1.pem": (serialization.PrivateFormat.TraditionalOpenSSL, None),
    "pkcs8.pem": (serialization.PrivateFormat.PKCS8, None),
    "id_rsa": (serialization.PrivateFormat.OpenSSH, None),
    "pkcs8-passphrase.pem": (serialization.PrivateFormat.PKCS8, PASSPHRASE),
    "pkcs1-passphrase.pem": (serialization.PrivateFormat.TraditionalOpenSSL, PASSPHRASE),
}


def write_key_files(directory: Path, key: rsa.RSAPrivateKey | None = None) -> dict[str, Path]:
    """One key pair written in each format of FORMATS; name -> path."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (private_format, passphrase) in FORMATS.items():
        encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                      else serialization.NoEncryption())
        paths[name] = directory / name
        paths[name].write_bytes(key.private_bytes(serialization.Encoding.PEM, private_format, encryption))
    return paths
