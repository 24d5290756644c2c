"""pvaflow: a streaming framework for EPICS pvAccess (Area Detector) data."""

from importlib import import_module
from typing import Any

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

# the processor API is imported when first used: `import pvaflow` (and the start of every pvaflow
# command, which must be able to catch a Ctrl-C from its first moment) stays free of pvaccess, numpy and
# the optional packages (h5py, cryptography)
_LAZY = {
    "AdImageProcessor": ".ad_image_processor",
    "UserDataProcessor": ".processor",
    "Hdf5AdImageWriter": ".processors.hdf5_writer",
    "AdMetadataProcessor": ".processors.ad_metadata",
    "AdOutputFileProcessor": ".processors.ad_output_file",
    "DataEncryptor": ".processors.encryption",
    "DataDecryptor": ".processors.encryption",
    "AdImageDataEncryptor": ".processors.encryption",
    "AdImageDataDecryptor": ".processors.encryption",
    "UserMpDataProcessor": ".mp_processor",
    "UserMpWorker": ".mp_processor",
    "UserMpWorkerController": ".mp_processor",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pvaflow")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0.0.0"
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
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
    "UserMpDataProcessor",
    "UserMpWorker",
    "UserMpWorkerController",
    "__version__",
]
