"""Authenticated encryption of byte payloads: RSA key pairs, AES-256-GCM data keys, RSA-PSS signatures."""

try:
    import cryptography  # noqa: F401 (checked here so the message says how to install it)
except ModuleNotFoundError:
    raise ImportError("pvaflow's encryption needs the Python package 'cryptography' "
                      "(pip install 'pvaflow[crypto]')") from None
