"""AdImageProcessor: UserDataProcessor with Area Detector (NTNDArray) helpers.

The class methods are thin, documented entry points to :mod:`pvaflow.ntnd`,
under the names of pvaPy's processor API.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pvaccess as pva

from . import ntnd
from .processor import UserDataProcessor

PVAPY_POSITIONAL = 5  # nx, ny, dtype, compressorName, extraFieldsPvObject after imageId and image (pvaPy 5.6)


class AdImageProcessor(UserDataProcessor):
    """Base for processors of Area Detector images (NTNDArray objects)."""

    COLOR_MODE_MONO = ntnd.COLOR_MODE_MONO
    COLOR_MODE_RGB1 = ntnd.COLOR_MODE_RGB1
    COLOR_MODE_RGB2 = ntnd.COLOR_MODE_RGB2
    COLOR_MODE_RGB3 = ntnd.COLOR_MODE_RGB3

    @classmethod
    def reshapeNtNdArray(cls, ntNdArray: pva.PvObject) -> tuple:  # noqa: N802, N803
        """Decode an NTNDArray: ``(imageId, image, nx, ny, nz, colorMode, fieldKey)``.

        ``image`` has shape (ny, nx) for mono and (ny, nx, 3) for the RGB
        colour modes; compressed arrays (blosc, lz4, bslz4) are decompressed.
        """
        return ntnd.reshape(ntNdArray)  # a named tuple: unpacks like pvaPy's plain tuple

    @classmethod
    def getNtNdArrayDataFieldKey(cls, image: np.ndarray) -> str | None:  # noqa: N802
        """Value union field for the image dtype, e.g. 'ubyteValue' for uint8."""
        return ntnd.field_key(image)

    @classmethod
    def generateNtNdArray2D(  # noqa: N802
        cls,
        imageId: int,  # noqa: N803
        image: np.ndarray,
        *positional: Any,
        extraFieldsPvObject: pva.PvObject | None = None,  # noqa: N803
        nx: int | None = None,
        ny: int | None = None,
        dtype: Any = None,
        compressorName: str | None = None,  # noqa: N803
    ) -> pva.PvObject:
        """New NTNDArray from a 2-D image (shape (ny, nx)).

        Both positional forms work: the seed's ``(imageId, image, extraFieldsPvObject)`` and pvaPy 5.6's
        ``(imageId, image, nx, ny, dtype, compressorName, extraFieldsPvObject)``. ``extraFieldsPvObject``
        adds fields and values. For an already compressed payload pass ``compressorName``, ``nx``, ``ny``
        and the uncompressed ``dtype``.
        """
        if len(positional) == 1 and isinstance(positional[0], pva.PvObject):
            extraFieldsPvObject = positional[0]  # the seed's form
        elif positional:
            if len(positional) > PVAPY_POSITIONAL:
                raise TypeError(f"generateNtNdArray2D() takes at most {PVAPY_POSITIONAL + 2} positional arguments")
            named = dict(zip(("nx", "ny", "dtype", "compressorName", "extraFieldsPvObject"), positional, strict=False))
            nx, ny, dtype = named.get("nx", nx), named.get("ny", ny), named.get("dtype", dtype)
            compressorName = named.get("compressorName", compressorName)
            extraFieldsPvObject = named.get("extraFieldsPvObject", extraFieldsPvObject)
        if compressorName:
            return ntnd.generate_compressed(
                imageId, image, compressorName, dtype, nx, ny, extra=extraFieldsPvObject
            )
        return ntnd.generate(imageId, image, extra=extraFieldsPvObject)

    @classmethod
    def replaceNtNdArrayImage2D(  # noqa: N802
        cls,
        ntNdArray: pva.PvObject,  # noqa: N803
        imageId: int,  # noqa: N803
        image: np.ndarray,
        extraFieldsPvObject: pva.PvObject | None = None,  # noqa: N803
    ) -> pva.PvObject:
        """Put a 2-D image into an existing NTNDArray (faster than generating one)."""
        return ntnd.replace_image_2d(ntNdArray, imageId, image, extraFieldsPvObject)

    def getInputPvObjectType(self) -> pva.PvObject:  # noqa: N802
        """Input structure when the host serves the input channel: an NTNDArray."""
        return pva.NtNdArray()
