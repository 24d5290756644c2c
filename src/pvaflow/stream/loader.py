"""Load the user's processor class: from a file and class name, or a dotted path.

Only what the user names is imported. The class is checked when loaded (a
class, with a callable ``process``, constructible with a config dict), and
every failure is one :class:`ProcessorLoadError` line naming the file and
line where it happened. pvaPy's built-in processor paths are aliases of ours.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from ..config_values import json_object
from ..errors import ConfigError, ProcessorLoadError, describe, location

logger = logging.getLogger(__name__)

DEFAULT_PROCESSOR = "pvaflow.processor.UserDataProcessor"

# built-in processors by class name alone (-pc AdOutputFileProcessor)
BUILTINS = {
    "UserDataProcessor": "pvaflow.processor.UserDataProcessor",
    "AdImageProcessor": "pvaflow.ad_image_processor.AdImageProcessor",
    "AdOutputFileProcessor": "pvaflow.processors.ad_output_file.AdOutputFileProcessor",
    "Hdf5AdImageWriter": "pvaflow.processors.hdf5_writer.Hdf5AdImageWriter",
    "DataEncryptor": "pvaflow.processors.encryption.DataEncryptor",
    "DataDecryptor": "pvaflow.processors.encryption.DataDecryptor",
    "AdImageDataEncryptor": "pvaflow.processors.encryption.AdImageDataEncryptor",
    "AdImageDataDecryptor": "pvaflow.processors.encryption.AdImageDataDecryptor",
    "AdMetadataProcessor": "pvaflow.processors.ad_metadata.AdMetadataProcessor",
}
# pvaPy class paths users copy from its documentation -> ours
PVAPY_ALIASES = {
    "pvapy.hpc.userDataProcessor.UserDataProcessor": BUILTINS["UserDataProcessor"],
    "pvapy.hpc.adImageProcessor.AdImageProcessor": BUILTINS["AdImageProcessor"],
    "pvapy.hpc.adOutputFileProcessor.AdOutputFileProcessor": BUILTINS["AdOutputFileProcessor"],
    "pvapy.hpc.hdf5AdImageWriter.Hdf5AdImageWriter": BUILTINS["Hdf5AdImageWriter"],
    "pvapy.hpc.dataEncryptor.DataEncryptor": BUILTINS["DataEncryptor"],
    "pvapy.hpc.dataDecryptor.DataDecryptor": BUILTINS["DataDecryptor"],
    "pvapy.hpc.adImageDataEncryptor.AdImageDataEncryptor": BUILTINS["AdImageDataEncryptor"],
    "pvapy.hpc.adImageDataDecryptor.AdImageDataDecryptor": BUILTINS["AdImageDataDecryptor"],
}
PVAPY_PREFIX = "pvapy."
HOST_CALLED_METHODS = (
    "process", "start", "stop", "configure", "resetStats", "getStats", "getStatsPvaTypes",
    "getOutputPvObjectType",
)


def parse_processor_args(text: str | None) -> dict[str, Any]:
    """The -pa JSON object (never evaluated as Python)."""
    if not text:
        return {}
    try:
        return json_object("processor args", text)
    except ConfigError as ex:
        raise ConfigError(f"{ex}: {text}") from ex


def _module_from_file(path: str) -> Any:
    file_path = Path(path)
    if file_path.is_dir():
        raise ProcessorLoadError(f"processor file {path} is a directory, not a Python file")
    if not file_path.is_file():
        raise ProcessorLoadError(f"processor file {path} does not exist")
    module_name = f"pvaflow_user_processor_{abs(hash(str(file_path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, file_path)
    if spec is None or spec.loader is None:
        raise ProcessorLoadError(f"processor file {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as ex:  # sys.exit() at import too: one line, not a silent exit
        del sys.modules[module_name]
        raise ProcessorLoadError(f"{location(ex, path)}: cannot import processor file: {describe(ex)}") from ex
    return module


def _resolve_dotted(class_path: str) -> tuple[Any, str, str]:
    class_path = PVAPY_ALIASES.get(class_path) or BUILTINS.get(class_path, class_path)
    if class_path.startswith(PVAPY_PREFIX):
        raise ProcessorLoadError(
            f"{class_path} has no pvaflow equivalent yet (aliases: {', '.join(sorted(PVAPY_ALIASES))})"
        )
    module_name, _, class_name = class_path.rpartition(".")
    if not module_name:
        raise ProcessorLoadError(
            f"processor class '{class_path}' needs --processor-file, or a module.Class path "
            f"(built-in classes: {', '.join(BUILTINS)})"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as ex:
        raise ProcessorLoadError(
            f"{location(ex, module_name)}: cannot import module {module_name}: {describe(ex)}"
        ) from ex
    return module, class_name, module_name


def load_processor_class(processor_file: str | None, processor_class: str | None) -> type:
    """The processor class named by -pf/-pc (the passthrough processor if neither is given)."""
    if processor_file:
        if not processor_class:
            raise ProcessorLoadError(f"processor file {processor_file} given without --processor-class")
        module, class_name, origin = _module_from_file(processor_file), processor_class, processor_file
    else:
        module, class_name, origin = _resolve_dotted(processor_class or DEFAULT_PROCESSOR)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ProcessorLoadError(f"{origin} has no class {class_name}")
    if not isinstance(cls, type):
        raise ProcessorLoadError(f"{origin}: {class_name} is not a class")
    missing = [name for name in HOST_CALLED_METHODS if not callable(getattr(cls, name, None))]
    if missing:
        raise ProcessorLoadError(
            f"{origin}: {class_name} lacks {', '.join(missing)} (derive it from pvaflow.UserDataProcessor)"
        )
    return cls


def create_processor(cls: type, config: dict[str, Any]) -> Any:
    """Instantiate ``cls(config)``; a failing constructor is one line with file:line."""
    try:
        return cls(config)
    except ConfigError as ex:  # a value the user gave: name it, not the line of pvaflow that checked it
        raise ProcessorLoadError(f"--processor-args: {cls.__name__}: {ex}") from ex
    except (Exception, SystemExit) as ex:
        raise ProcessorLoadError(
            f"{location(ex, cls.__qualname__)}: {cls.__name__}(configDict) failed: {describe(ex)}"
        ) from ex
