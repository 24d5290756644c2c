"""pvaflow: a streaming framework for EPICS pvAccess (Area Detector) data."""

from importlib.metadata import PackageNotFoundError, version

from .ad_image_processor import AdImageProcessor
from .errors import (
    ChannelError,
    CodecUnavailableError,
    ConfigError,
    FrameFormatError,
    IntegrityError,
    ProcessorLoadError,
    PvaflowError,
)
from .processor import UserDataProcessor
from .processors.hdf5_writer import Hdf5AdImageWriter
from .processors.output_file import AdOutputFileProcessor

try:
    __version__ = version("pvaflow")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AdImageProcessor",
    "AdOutputFileProcessor",
    "ChannelError",
    "CodecUnavailableError",
    "ConfigError",
    "FrameFormatError",
    "Hdf5AdImageWriter",
    "IntegrityError",
    "ProcessorLoadError",
    "PvaflowError",
    "UserDataProcessor",
    "__version__",
]
