"""The pvaflow exception tree.

Every error raised at an edge (command line, configuration, processor
loading, frame decoding) is one of these, with a one-line message::

    PvaflowError
    ├── ConfigError            bad option, value or combination
    ├── ProcessorLoadError     processor file/class cannot be loaded or is invalid
    ├── FrameFormatError       an NTNDArray that cannot be decoded (dims, colour mode, union)
    │   └── CodecUnavailableError   a compressed frame whose codec package is not installed
    ├── SerializationError     bytes that are not a valid serialized PvObject
    ├── IntegrityError         data failed an integrity or authenticity check
    │   └── SignatureError     a signature is missing or does not verify
    ├── ChannelError           a PVA/CA channel cannot be created, reached or written
    └── FramesLostError        a processor lost objects it had already processed (a file that could not
                               be completed): the host takes them out of nProcessed and counts them as errors

Inside the stream these are counted per kind and the stream goes on; at the
edges they are printed as one line and the tool exits non-zero.
"""

from __future__ import annotations

import traceback


class PvaflowError(Exception):
    """Base of every error pvaflow raises on purpose."""


class ConfigError(PvaflowError, ValueError):
    """An option, configuration value or combination of them is invalid."""


class ProcessorLoadError(PvaflowError):
    """A processor file or class cannot be loaded or does not fit the API."""


class FrameFormatError(PvaflowError, ValueError):
    """An NTNDArray cannot be decoded into an image."""


class CodecUnavailableError(FrameFormatError):
    """A compressed frame needs a codec package that is not installed."""

    def __init__(self, codec: str, package: str) -> None:
        super().__init__(
            f"codec '{codec}' needs the Python package '{package}', which is not installed "
            f"(pip install '{package}' or pip install 'pvaflow[codecs]')"
        )
        self.codec = codec
        self.package = package


class SerializationError(PvaflowError, ValueError):
    """Bytes do not hold a valid serialized PvObject."""


class IntegrityError(PvaflowError):
    """Data failed an integrity or authenticity check."""


class SignatureError(IntegrityError):
    """A signature is missing where one is required, or does not verify."""


class ChannelError(PvaflowError):
    """A PVA/CA channel cannot be created, reached or written."""


class FramesLostError(PvaflowError):
    """Objects a processor had processed (and the host counted) were lost after all, e.g. with a file that
    could not be completed; ``n_lost`` says how many. Raised from ``process()`` or ``stop()``."""

    def __init__(self, message: str, n_lost: int) -> None:
        super().__init__(message)
        self.n_lost = n_lost


def location(ex: BaseException, default: str = "?") -> str:
    """``file:line`` where ``ex`` was raised (the innermost frame), or of a SyntaxError."""
    if isinstance(ex, SyntaxError) and ex.filename:
        return f"{ex.filename}:{ex.lineno}"
    frames = traceback.extract_tb(ex.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else default


def describe(ex: BaseException) -> str:
    """``Type: message`` on one line (``sys.exit(code)`` for SystemExit)."""
    if isinstance(ex, SystemExit):
        return f"sys.exit({ex.code!r})"
    message = ex.msg if isinstance(ex, SyntaxError) else str(ex)
    return f"{type(ex).__name__}: {message}".replace("\n", " ")
