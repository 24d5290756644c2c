"""AdOutputFileProcessor: one file per frame, format from the file extension.

    pvaflow consumer -ic pvapy:image -pc AdOutputFileProcessor \\
        -pa '{"outputDirectory": "/data/scan1", "outputFileNameFormat": "{uniqueId:06}.{processorId}.tiff"}'

Formats (see :mod:`pvaflow.files.formats`): TIFF, PNG, JPEG, BMP, ``.npy``
and raw ``.bin``. An unknown extension is refused at configure time; a
dtype the format cannot hold is refused with the first such frame (and at
configure time once a frame has been seen). Files are written atomically and
never replace an existing file unless ``ifFileExists`` is ``overwrite``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pvaccess as pva

from .. import ntnd
from ..files.atomic import atomic_file
from ..files.formats import ImageFormat, format_for
from ..files.naming import check_name_format
from .file_writer_base import FileOutputProcessor


class AdOutputFileProcessor(FileOutputProcessor):
    """Saves every Area Detector frame into its own file (pvaPy's processor, with atomic writes)."""

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        self.last_image_kind: tuple[np.dtype, bool] | None = None  # (dtype, colour) of the last frame
        self.image_format: ImageFormat | None = None
        super().__init__(configDict)

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        super().configure(configDict)
        self.image_format = format_for(check_name_format(self.outputFileNameFormat))

    def check_name(self, sample_name: str) -> None:
        image_format = format_for(sample_name)
        if self.last_image_kind is not None:
            image_format.check(*self.last_image_kind)

    def save(self, frame_id: int, image: np.ndarray, color_mode: int, pvObject: pva.PvObject) -> int:  # noqa: N803
        path = self.path_for(frame_id, pvObject)
        colour = color_mode != ntnd.COLOR_MODE_MONO
        image_format = self.image_format
        image_format.check(image.dtype, colour)
        self.last_image_kind = (image.dtype, colour)
        with atomic_file(path, self.placer) as target:
            image_format.write(target.file, image)
            size = target.file.tell()
        if target.replaced:
            self.nFilesReplaced += 1
        else:
            self.nFilesSaved += 1
        self.lastFileProcessedTime = time.time()
        return size
