"""pvaflow: a streaming framework for EPICS pvAccess (Area Detector) data."""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .ad_image_processor import AdImageProcessor
from .errors import (
    ChannelError,
    CodecUnavailableError,
    ConfigError,
    FrameFormatError,
    IntegrityError,
    ProcessorLoadError,
    PvaflowError,
    SerializationError,
    SignatureError,
)
from .processor import UserDataProcessor
from .processors.hdf5_writer import Hdf5AdImageWriter
from .processors.metadata import AdMetadataProcessor
from .processors.output_file import AdOutputFileProcessor

try:
    __version__ = version("pvaflow")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

# the encryption processors need the optional 'cryptography' package: imported when first used
_ENCRYPTION = ("DataEncryptor", "DataDecryptor", "AdImageDataEncryptor", "AdImageDataDecryptor")


def __getattr__(name: str) -> Any:
    if name in _ENCRYPTION:
        return getattr(import_module(".processors.encryption", __name__), name)
    raise AttributeError(f"module 'pvaflow' has no attribute {name!r}")


__all__ = [
    "AdImageDataDecryptor",
    "AdImageDataEncryptor",
    "AdImageProcessor",
    "AdMetadataProcessor",
    "AdOutputFileProcessor",
    "ChannelError",
    "CodecUnavailableError",
    "ConfigError",
    "DataDecryptor",
    "DataEncryptor",
    "FrameFormatError",
    "Hdf5AdImageWriter",
    "IntegrityError",
    "ProcessorLoadError",
    "PvaflowError",
    "SerializationError",
    "SignatureError",
    "UserDataProcessor",
    "__version__",
]
