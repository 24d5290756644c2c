"""The processor API surface of ../shared/spec/processor-api.txt, and pvaPy-style processors."""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pvaccess as pva

import pvaflow
from pvaflow import AdImageProcessor, UserDataProcessor

API_METHODS = [
    "start", "configure", "process", "stop", "resetStats", "getStats",
    "getStatsPvaTypes", "getOutputPvObjectType", "updateOutputChannel",
]
HOST_ATTRIBUTES = ["logger", "processorId", "inputChannel", "outputChannel", "objectIdField", "pvaServer"]
AD_CLASS_METHODS = [
    "reshapeNtNdArray", "getNtNdArrayDataFieldKey", "generateNtNdArray2D", "replaceNtNdArrayImage2D",
]


class ListPublisher:
    """A plain publisher that keeps what it is given (no PVA needed for this unit)."""

    def __init__(self) -> None:
        self.published: list = []

    def updateOutputChannel(self, pvObject) -> None:  # noqa: N802, N803
        self.published.append(pvObject)


def test_every_api_method_and_attribute_exists() -> None:
    for cls in (UserDataProcessor, AdImageProcessor):
        processor = cls({"a": 1})
        for name in API_METHODS:
            assert callable(getattr(processor, name)), f"{cls.__name__}.{name}"
        for name in HOST_ATTRIBUTES:
            assert hasattr(processor, name), f"{cls.__name__}.{name}"
        assert isinstance(processor.logger, logging.Logger)
    for name in AD_CLASS_METHODS:
        assert inspect.ismethod(getattr(AdImageProcessor, name)), name  # bound to the class
    assert issubclass(AdImageProcessor, UserDataProcessor)


def test_constructor_takes_config_dict_positionally_and_by_name() -> None:
    assert UserDataProcessor({"x": 1}).configDict == {"x": 1}
    assert AdImageProcessor(configDict={"y": 2}).configDict == {"y": 2}
    assert UserDataProcessor().configDict == {}


def test_base_stats_are_empty_dicts() -> None:
    processor = UserDataProcessor()
    processor.resetStats()
    assert processor.getStats() == {} and processor.getStatsPvaTypes() == {}


def test_passthrough_process_publishes_input_unchanged() -> None:
    processor = AdImageProcessor()
    processor.outputChannel = "out"
    processor.dataPublisher = ListPublisher()
    frame = AdImageProcessor.generateNtNdArray2D(4, np.arange(6, dtype=np.uint8).reshape(2, 3))
    processor.process(frame)
    assert processor.dataPublisher.published == [frame]
    assert processor.getOutputPvObjectType(frame) is frame


def test_no_output_channel_publishes_nothing() -> None:
    processor = UserDataProcessor()
    processor.dataPublisher = ListPublisher()
    processor.process(pva.PvObject({"uniqueId": pva.INT}, {"uniqueId": 1}))
    assert processor.dataPublisher.published == []


class PvapyStyleProcessor(AdImageProcessor):
    """Written as pvaPy's documentation shows: same base methods, camelCase stats."""

    def __init__(self, configDict={}):  # noqa: B006, N803 (the pvaPy idiom)
        AdImageProcessor.__init__(self, configDict)
        self.offset = int(configDict.get("offset", 0))
        self.nProcessed = 0

    def configure(self, configDict):  # noqa: N803
        self.offset = int(configDict.get("offset", self.offset))

    def process(self, pvObject):  # noqa: N803
        imageId, image, nx, ny, nz, colorMode, fieldKey = self.reshapeNtNdArray(pvObject)
        out = self.generateNtNdArray2D(imageId, (image + self.offset).astype(image.dtype))
        self.nProcessed += 1
        self.updateOutputChannel(out)
        return out

    def resetStats(self):
        self.nProcessed = 0

    def getStats(self):
        return {"nProcessed": self.nProcessed}

    def getStatsPvaTypes(self):
        return {"nProcessed": pva.UINT}


def test_pvapy_style_processor_runs_through_the_documented_methods() -> None:
    processor = PvapyStyleProcessor({"offset": 1})
    processor.outputChannel = "out"
    processor.objectIdField = "uniqueId"
    processor.dataPublisher = ListPublisher()
    processor.start()
    frame = AdImageProcessor.generateNtNdArray2D(8, np.zeros((2, 2), np.uint16))
    processor.process(frame)
    processor.configure({"offset": 5})
    processor.process(frame)
    assert processor.getStats() == {"nProcessed": 2}
    images = [AdImageProcessor.reshapeNtNdArray(p)[1] for p in processor.dataPublisher.published]
    assert [int(image[0, 0]) for image in images] == [1, 5]
    processor.resetStats()
    processor.stop()
    assert processor.getStats() == {"nProcessed": 0}


def test_public_names_are_sorted_and_importable() -> None:
    assert pvaflow.__all__ == sorted(pvaflow.__all__)
    for name in pvaflow.__all__:
        assert hasattr(pvaflow, name), name
