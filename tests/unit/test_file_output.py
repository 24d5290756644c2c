"""AdOutputFileProcessor and Hdf5AdImageWriter without a stream: formats, names, errors, HDF5 layout."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image

from pvaflow import AdOutputFileProcessor, ConfigError, Hdf5AdImageWriter, ntnd
from pvaflow.files.formats import FORMATS
from pvaflow.files.pieces import PIECE_BYTES, PiecewiseFile
from pvaflow.files.placing import Placer
from pvaflow.processors.hdf5_writer import Column
from pvaflow.stream.loader import load_processor_class

DTYPES = [np.dtype(name) for name in ntnd.DATATYPE_NAMES]
READERS = {
    ".tiff": tifffile.imread,
    ".png": lambda path: np.asarray(Image.open(path)),
    ".jpg": lambda path: np.asarray(Image.open(path)),
    ".bmp": lambda path: np.asarray(Image.open(path)),
    ".npy": np.load,
}


def frame(image_id: int, image: np.ndarray, mode: int = ntnd.COLOR_MODE_MONO, **attributes):
    nt = ntnd.generate(image_id, image, mode)
    if attributes:
        ntnd.set_attributes(nt, attributes)
    return nt


def sample(dtype: np.dtype, colour: bool = False) -> np.ndarray:
    shape = (5, 7, 3) if colour else (5, 7)
    image = (np.arange(np.prod(shape)).reshape(shape) % 100).astype(dtype)
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    image.flat[0], image.flat[-1] = info.min, info.max
    return image


def writer(tmp_path: Path, name_format: str, **config) -> AdOutputFileProcessor:
    processor = AdOutputFileProcessor({"outputDirectory": str(tmp_path / "out"), "outputFileNameFormat": name_format,
                                       **config})
    processor.processorId = 1
    return processor


def supported() -> list[tuple[str, np.dtype, bool]]:
    cases = []
    for extension in READERS:
        image_format = FORMATS[extension]
        cases += [(extension, dtype, False) for dtype in DTYPES if dtype in image_format.dtypes]
        cases += [(extension, dtype, True) for dtype in DTYPES if dtype in image_format.colour_dtypes]
    return cases


@pytest.mark.parametrize(("extension", "dtype", "colour"), supported(), ids=str)
def test_every_format_round_trips_every_dtype_it_supports(tmp_path, extension, dtype, colour) -> None:
    image = sample(dtype, colour)
    processor = writer(tmp_path, "{uniqueId:04}.{processorId}" + extension)
    processor.process(frame(7, image, ntnd.COLOR_MODE_RGB1 if colour else ntnd.COLOR_MODE_MONO))
    back = READERS[extension](tmp_path / "out" / f"0007.1{extension}")
    assert back.shape == image.shape and back.dtype == image.dtype
    if FORMATS[extension].lossy:
        assert np.abs(back.astype(float) - image.astype(float)).mean() < 20  # JPEG: close, not exact
    else:
        np.testing.assert_array_equal(back, image)
    assert processor.getStats()["nFilesSaved"] == 1
    assert processor.getStats()["nBytesSaved"] == (tmp_path / "out" / f"0007.1{extension}").stat().st_size


def test_raw_binary_is_the_c_order_bytes(tmp_path) -> None:
    image = sample(np.dtype("uint16"))
    writer(tmp_path, "{uniqueId}.bin").process(frame(3, image))
    assert (tmp_path / "out" / "3.bin").read_bytes() == image.tobytes()


def test_names_use_ids_processor_id_and_attributes(tmp_path) -> None:
    processor = writer(tmp_path, "{Scan}/{frameId:03}-{objectId}-p{processorId}.npy")
    processor.process(frame(12, sample(np.dtype("uint8")), Scan="s7"))
    assert (tmp_path / "out" / "s7" / "012-12-p1.npy").is_file()
    with pytest.raises(ConfigError, match="needs 'Scan', which frame 13 lacks"):
        processor.process(frame(13, sample(np.dtype("uint8"))))
    assert processor.getStats()["nErrors"] == 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"outputFileNameFormat": "../{uniqueId}.tiff"}, "outside the output directory"),
        ({"outputFileNameFormat": "/tmp/{uniqueId}.tiff"}, "outside the output directory"),
        ({"outputFileNameFormat": "a/../../{uniqueId}.tiff"}, "outside the output directory"),
        ({"outputFileNameFormat": "{uniqueId}.xyz"}, "unknown file extension '.xyz'"),
        ({"outputFileNameFormat": "{}.tiff"}, "use named fields"),
        ({"outputFileNameFormat": "{uniqueId.tiff"}, "not a valid format"),
        ({"outputFileNameFormat": 5}, "must be a non-empty string"),
        ({"objectIdOffset": 0}, "objectIdOffset must be an integer >= 1"),
        ({"outputDirectory": ""}, "outputDirectory must be a non-empty string"),
    ],
)
def test_bad_configuration_is_refused_and_changes_nothing(tmp_path, config, message) -> None:
    processor = writer(tmp_path, "{uniqueId}.tiff")
    with pytest.raises(ConfigError, match=message):
        processor.configure(config)
    assert processor.outputFileNameFormat == "{uniqueId}.tiff"
    with pytest.raises(ConfigError, match=message):
        AdOutputFileProcessor(config)


def test_a_dtype_the_format_cannot_hold_is_refused(tmp_path) -> None:
    processor = writer(tmp_path, "{uniqueId}.tiff")
    processor.process(frame(1, sample(np.dtype("float32"))))
    with pytest.raises(ConfigError, match="PNG cannot hold mono float32 images"):
        processor.configure({"outputFileNameFormat": "{uniqueId}.png"})  # known from the last frame
    processor = writer(tmp_path, "{uniqueId}.jpg")
    with pytest.raises(ConfigError, match="JPEG cannot hold mono uint16 images"):
        processor.process(frame(1, sample(np.dtype("uint16"))))


def test_directory_and_format_change_at_runtime(tmp_path) -> None:
    processor = writer(tmp_path, "{uniqueId}.tiff")
    processor.process(frame(1, sample(np.dtype("uint8"))))
    processor.configure({"outputDirectory": str(tmp_path / "second"), "outputFileNameFormat": "f{uniqueId}.npy"})
    processor.process(frame(2, sample(np.dtype("uint8"))))
    assert (tmp_path / "out" / "1.tiff").is_file()
    assert (tmp_path / "second" / "f2.npy").is_file()


def test_missed_files_follow_the_object_id_offset(tmp_path) -> None:
    processor = writer(tmp_path, "{uniqueId}.npy", objectIdOffset=2)
    for image_id in (1, 3, 9, 11):  # 5 and 7 never came
        processor.process(frame(image_id, sample(np.dtype("uint8"))))
    assert processor.getStats()["nMissedFiles"] == 2
    processor.resetStats()
    assert processor.getStats()["nMissedFiles"] == 0 and processor.getStats()["nFilesSaved"] == 0


def test_unwritable_directory_is_counted_and_recovered(tmp_path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file where the directory should be")
    processor = writer(tmp_path, "{uniqueId}.npy")
    with pytest.raises(OSError):
        processor.process(frame(1, sample(np.dtype("uint8"))))
    assert processor.getStats()["nErrors"] == 1
    blocker.unlink()  # the operator fixes it: the next frame is written
    processor.process(frame(2, sample(np.dtype("uint8"))))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2.npy"]  # no partial file left


FULL_DISK = """
import resource, sys
import numpy as np
from pvaflow import AdOutputFileProcessor, ntnd
processor = AdOutputFileProcessor({"outputDirectory": sys.argv[1], "outputFileNameFormat": "{uniqueId}.bin"})
image = np.zeros((100, 100), dtype=np.uint8)
resource.setrlimit(resource.RLIMIT_FSIZE, (5000, resource.RLIM_INFINITY))  # files above 5 kB: "disk full"
try:
    processor.process(ntnd.generate(1, image))
except OSError as ex:
    print("error", ex.errno)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # room again
processor.process(ntnd.generate(2, image))
print(processor.getStats()["nErrors"], processor.getStats()["nFilesSaved"])
"""


def test_a_full_disk_is_counted_and_writing_resumes(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["error", "27", "1", "1"]  # EFBIG, then one error and one file saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2.bin"]


HDF5_FULL_DISK = """
import resource, signal, sys
import numpy as np
from pvaflow import Hdf5AdImageWriter, ntnd
from pvaflow.errors import FramesLostError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
processor = Hdf5AdImageWriter({"outputDirectory": sys.argv[1], "nImagesPerFile": 3})
image = np.zeros((100, 100), dtype=np.uint8)
processor.process(ntnd.generate(1, image))
resource.setrlimit(resource.RLIMIT_FSIZE, (15000, resource.RLIM_INFINITY))  # "disk full" from here
try:
    processor.process(ntnd.generate(2, image))
except FramesLostError as ex:
    print("error", ex.__cause__.errno, "lost", ex.n_lost)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # room again
for frame_id in (3, 4, 5):
    processor.process(ntnd.generate(frame_id, image))
stats = processor.getStats()
print(stats["nErrors"], stats["nFilesSaved"], stats["nBytesSaved"])
"""


def test_hdf5_full_disk_counts_every_frame_of_the_lost_file_and_writing_resumes(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-c", HDF5_FULL_DISK, str(tmp_path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # frame 2 failed (EFBIG) and its file, holding frame 1, could not be closed: 2 errors; 3-5 in the next file
    assert result.stdout.split() == ["error", "27", "lost", "1", "2", "1", "30000"], result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000002.None.hdf"]
    with h5py.File(tmp_path / "000002.None.hdf") as h5:
        assert list(h5["uniqueId"][:]) == [3, 4, 5]


def test_builtin_names_and_pvapy_paths_load_our_classes() -> None:
    assert load_processor_class(None, "AdOutputFileProcessor") is AdOutputFileProcessor
    assert load_processor_class(None, "pvapy.hpc.adOutputFileProcessor.AdOutputFileProcessor") is AdOutputFileProcessor
    assert load_processor_class(None, "pvapy.hpc.hdf5AdImageWriter.Hdf5AdImageWriter") is Hdf5AdImageWriter


# --- HDF5 -----------------------------------------------------------------
def hdf5_writer(tmp_path: Path, **config) -> Hdf5AdImageWriter:
    processor = Hdf5AdImageWriter({"outputDirectory": str(tmp_path), **config})
    processor.processorId = 2
    return processor


@pytest.mark.parametrize("compression", [None, "gzip", "lzf"])
def test_hdf5_files_roll_over_and_hold_images_ids_stamps_attributes(tmp_path, compression) -> None:
    processor = hdf5_writer(tmp_path, nImagesPerFile=3, compression=compression)
    images = [sample(np.dtype("uint16")) + i for i in range(5)]
    for i, image in enumerate(images):
        processor.process(frame(i + 1, image, Motor=0.5 * i, Label=f"f{i}"))
    processor.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000001.2.hdf", "000002.2.hdf"]
    with h5py.File(tmp_path / "000001.2.hdf") as h5:
        assert h5["images"].shape == (3, 5, 7) and h5["images"].chunks == (1, 5, 7)
        assert h5["images"].compression == compression
        np.testing.assert_array_equal(h5["images"][:], np.stack(images[:3]))
        assert list(h5["uniqueId"][:]) == [1, 2, 3]
        assert h5["timeStamp"][0] > 1.7e9
        assert list(h5["attributes/Motor"][:]) == [0.0, 0.5, 1.0]
        assert [v.decode() for v in h5["attributes/Label"][:]] == ["f0", "f1", "f2"]
        assert h5.attrs["nImages"] == 3
    with h5py.File(tmp_path / "000002.2.hdf") as h5:
        assert list(h5["uniqueId"][:]) == [4, 5]
        np.testing.assert_array_equal(h5["images"][1], images[4])
    stats = processor.getStats()
    assert stats["nFilesSaved"] == 2 and stats["nBytesSaved"] == 5 * images[0].nbytes


def test_hdf5_attributes_that_change_type_or_come_late_keep_their_fill_values(tmp_path) -> None:
    processor = hdf5_writer(tmp_path, nImagesPerFile=4)
    image = sample(np.dtype("uint8"))
    processor.process(frame(1, image, Count=1))
    processor.process(frame(2, image, Count="two", Gain=2.5))  # Count is int64 from its first value
    processor.process(frame(3, image, Count=3.5, Gain=3))  # a float does not fit int64; an int fits float64
    processor.process(frame(4, image, Count=4, Gain="high"))
    with h5py.File(tmp_path / "000001.2.hdf") as h5:
        assert list(h5["attributes/Count"][:]) == [1, 0, 0, 4]
        assert list(h5["attributes/Gain"][:]) == [0.0, 2.5, 3.0, 0.0]
        assert list(h5["uniqueId"][:]) == [1, 2, 3, 4]
    assert processor.getStats()["nErrors"] == 0
    column = Column.of(1, 2)
    column.set(0, 2**70)  # out of int64's range (an unsigned 64-bit attribute)
    assert list(column.values) == [0, 0]


def test_hdf5_configure_closes_the_file_and_colour_frames_are_kept(tmp_path) -> None:
    processor = hdf5_writer(tmp_path, nImagesPerFile=10)
    colour = sample(np.dtype("uint8"), colour=True)
    processor.process(frame(1, colour, ntnd.COLOR_MODE_RGB1))
    assert list(tmp_path.iterdir())[0].name.endswith(".partial")  # open: only the temporary file
    processor.configure({"receiverQueueSize": 5, "flushPeriod": 1, "objectIdOffset": 1})  # the name stays
    assert list(tmp_path.iterdir())[0].name.endswith(".partial")  # still open (pvaPy's writer keeps it too)
    processor.configure({"outputFileNameFormat": "scan_{outputFileId}.h5"})
    processor.process(frame(2, colour, ntnd.COLOR_MODE_RGB1))
    processor.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000001.2.hdf", "scan_2.h5"]
    with h5py.File(tmp_path / "000001.2.hdf") as h5:
        np.testing.assert_array_equal(h5["images"][0], colour)
        assert h5.attrs["colorMode"] == ntnd.COLOR_MODE_RGB1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"nImagesPerFile": 0}, "nImagesPerFile must be an integer >= 1"),
        ({"compression": "zstd"}, "compression must be one of"),
        ({"compressionLevel": 12}, "compressionLevel must be an integer 0-9"),
        ({"datasetName": "uniqueId"}, "taken by another dataset"),
        ({"outputFileNameFormat": "{outputFileId}.tiff"}, "HDF5 file names end in"),
    ],
)
def test_hdf5_bad_configuration_is_refused(tmp_path, config, message) -> None:
    with pytest.raises(ConfigError, match=message):
        hdf5_writer(tmp_path, **config)


def test_hdf5_file_is_readable_by_h5dump(tmp_path) -> None:
    if shutil.which("h5dump") is None:
        pytest.skip("h5dump is not installed (Debian package hdf5-tools)")
    processor = hdf5_writer(tmp_path, nImagesPerFile=2)
    for i in (1, 2):
        processor.process(frame(i, sample(np.dtype("int32")) + i, Motor=0.25 * i))
    result = subprocess.run(["h5dump", "-H", str(tmp_path / "000001.2.hdf")], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert 'DATASET "images"' in result.stdout and "( 2, 5, 7 )" in result.stdout
    values = subprocess.run(["h5dump", "-d", "/uniqueId", "-d", "/attributes/Motor", "-d", "/images[1,0,0;;1,1,3]",
                             str(tmp_path / "000001.2.hdf")], capture_output=True, text=True, timeout=30)
    assert values.returncode == 0, values.stderr
    data = [line.split(":", 1)[1].strip() for line in values.stdout.splitlines() if line.strip().startswith("(")]
    assert data == ["1, 2", "0.25, 0.5", "-2147483646, 3, 4"], values.stdout  # frame 2: the sample + 2


KILLED_WHILE_WRITING = """
import os, signal, sys
import numpy as np
from pvaflow import Hdf5AdImageWriter, ntnd
processor = Hdf5AdImageWriter({"outputDirectory": sys.argv[1], "nImagesPerFile": 100})
for i in range(1, 6):
    processor.process(ntnd.generate(i, np.full((64, 64), i, dtype=np.uint8)))
os.kill(os.getpid(), signal.SIGKILL)  # dies with the file open
"""


def test_a_killed_writer_leaves_no_file_under_the_final_name(tmp_path) -> None:
    subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, str(tmp_path)], timeout=60)
    names = [p.name for p in tmp_path.iterdir()]
    assert names and all(name.startswith(".") and name.endswith(".partial") for name in names), names
    assert not (tmp_path / "000001.None.hdf").exists()


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path) -> None:
    from pvaflow.files.atomic import atomic_file

    with pytest.raises(RuntimeError), atomic_file(tmp_path / "x.bin", Placer()) as target:
        target.file.write(b"half")
        raise RuntimeError("writer died")
    assert list(tmp_path.iterdir()) == []
    assert os.listdir(tmp_path) == []


def test_files_get_the_usual_permissions(tmp_path) -> None:
    writer(tmp_path, "{uniqueId}.npy").process(frame(1, sample(np.dtype("uint8"))))
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out" / "1.npy").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_refused_configure_keeps_the_old_format(tmp_path) -> None:
    processor = writer(tmp_path, "{uniqueId}.tiff")
    with pytest.raises(ConfigError, match="objectIdOffset"):
        processor.configure({"outputFileNameFormat": "{uniqueId}.npy", "objectIdOffset": -1})
    processor.process(frame(1, sample(np.dtype("uint8"))))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "1.tiff"), sample(np.dtype("uint8")))


def test_hdf5_starts_a_new_file_when_the_colour_mode_changes(tmp_path) -> None:
    processor = hdf5_writer(tmp_path, nImagesPerFile=10)
    colour = sample(np.dtype("uint8"), colour=True)
    processor.process(frame(1, colour, ntnd.COLOR_MODE_RGB1))
    processor.process(frame(2, colour, ntnd.COLOR_MODE_RGB2))  # same array shape, other pixel order
    processor.stop()
    modes = []
    for name in ("000001.2.hdf", "000002.2.hdf"):
        with h5py.File(tmp_path / name) as h5:
            modes.append(int(h5.attrs["colorMode"]))
    assert modes == [ntnd.COLOR_MODE_RGB1, ntnd.COLOR_MODE_RGB2]


# --- writes in pieces ----------------------------------------------------------
class RecordingFile(io.FileIO):
    """Below PiecewiseFile in the method order: records the sizes it hands to the kernel."""

    sizes: list[int]

    def write(self, data) -> int:
        self.sizes.append(len(memoryview(data).cast("B")))
        return super().write(data)


class RecordedPiecewiseFile(PiecewiseFile, RecordingFile):
    pass


def test_large_writes_reach_the_kernel_in_pieces_and_arrive_whole(tmp_path) -> None:
    data = np.random.default_rng(3).integers(0, 255, 3 * PIECE_BYTES + 17, dtype=np.uint8)
    with RecordedPiecewiseFile(tmp_path / "x.bin", "x+") as file:
        file.sizes = []
        assert file.write(b"head") == 4
        assert file.write(data) == data.nbytes
    assert file.sizes == [4, PIECE_BYTES, PIECE_BYTES, PIECE_BYTES, 17]
    assert (tmp_path / "x.bin").read_bytes() == b"head" + data.tobytes()


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "int32", "uint64", "float32", "float64"])
@pytest.mark.parametrize("colour", [False, True])
def test_tiff_and_npy_files_are_byte_for_byte_those_of_tifffile_and_numpy(tmp_path, dtype, colour) -> None:
    image = sample(np.dtype(dtype), colour=colour)
    mode = ntnd.COLOR_MODE_RGB1 if colour else ntnd.COLOR_MODE_MONO
    photometric = "rgb" if colour else "minisblack"
    expected_npy = io.BytesIO()
    np.save(expected_npy, image, allow_pickle=False)
    processor = writer(tmp_path, "{uniqueId}.tiff")
    other = image[::-1].copy()  # another frame of the same geometry: the cached TIFF layout fits it too
    for frame_id, pixels in ((1, image), (3, other)):
        expected_tiff = io.BytesIO()
        tifffile.imwrite(expected_tiff, pixels, photometric=photometric)
        processor.process(frame(frame_id, pixels, mode))
        assert (tmp_path / "out" / f"{frame_id}.tiff").read_bytes() == expected_tiff.getvalue()
    processor.configure({"outputFileNameFormat": "{uniqueId}.npy"})
    processor.process(frame(2, image, mode))
    assert (tmp_path / "out" / "2.npy").read_bytes() == expected_npy.getvalue()


# --- no file is replaced silently (issue 18) ---------------------------------
def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_a_restarted_writer_never_replaces_the_files_of_its_earlier_run(tmp_path) -> None:
    images = [sample(np.dtype("uint8")) + i for i in range(3)]
    for run in range(3):  # the same ids three times: a restarted source, or a restarted writer
        processor = writer(tmp_path, "{uniqueId:06}.{processorId}.tiff")
        for i, image in enumerate(images):
            processor.process(frame(i + 1, image + run))
        assert processor.getStats()["nFilesSaved"] == 3 and processor.getStats()["nFilesReplaced"] == 0
    assert names(tmp_path / "out") == [f"{i:06}.1{suffix}.tiff" for i in (1, 2, 3) for suffix in ("", "_002", "_003")]
    for run, suffix in enumerate(("", "_002", "_003")):  # each copy holds its own run's frame
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / f"000002.1{suffix}.tiff"), images[1] + run)


def test_a_constant_name_gives_numbered_files_that_sort_in_order(tmp_path) -> None:
    processor = writer(tmp_path, "const.npy")
    for i in range(1, 13):
        processor.process(frame(i, sample(np.dtype("uint8")) + i))
    on_disk = names(tmp_path / "out")
    assert on_disk == ["const.npy"] + [f"const_{n:03}.npy" for n in range(2, 13)]
    assert [int(np.load(tmp_path / "out" / name)[1, 1]) for name in on_disk] == [8 + i for i in range(1, 13)]
    assert processor.getStats()["nFilesSaved"] == 12 == len(on_disk)


def test_if_file_exists_error_refuses_and_counts_and_overwrite_replaces(tmp_path) -> None:
    writer(tmp_path, "{uniqueId}.npy").process(frame(1, sample(np.dtype("uint8"))))
    refusing = writer(tmp_path, "{uniqueId}.npy", ifFileExists="error")
    with pytest.raises(FileExistsError, match="ifFileExists is 'error'"):
        refusing.process(frame(1, sample(np.dtype("uint8")) + 1))
    refusing.process(frame(2, sample(np.dtype("uint8")) + 2))
    assert refusing.getStats()["nErrors"] == 1 and refusing.getStats()["nFilesSaved"] == 1
    assert names(tmp_path / "out") == ["1.npy", "2.npy"] and np.load(tmp_path / "out" / "1.npy")[1, 1] == 8
    replacing = writer(tmp_path, "{uniqueId}.npy", ifFileExists="overwrite")
    replacing.process(frame(1, sample(np.dtype("uint8")) + 5))
    assert replacing.getStats()["nFilesReplaced"] == 1 and replacing.getStats()["nFilesSaved"] == 0
    assert names(tmp_path / "out") == ["1.npy", "2.npy"] and np.load(tmp_path / "out" / "1.npy")[1, 1] == 13
    with pytest.raises(ConfigError, match="ifFileExists must be one of suffix, error, overwrite, not 'keep'"):
        writer(tmp_path, "{uniqueId}.npy", ifFileExists="keep")


def test_hdf5_writer_run_twice_keeps_both_runs(tmp_path) -> None:
    for run in range(2):
        processor = hdf5_writer(tmp_path, nImagesPerFile=2)
        for i in range(1, 4):
            processor.process(frame(i, sample(np.dtype("uint16")) + run))
        processor.stop()
    assert names(tmp_path) == ["000001.2.hdf", "000001.2_002.hdf", "000002.2.hdf", "000002.2_002.hdf"]
    with h5py.File(tmp_path / "000001.2_002.hdf") as h5:
        assert list(h5["uniqueId"][:]) == [1, 2] and h5["images"][0, 1, 1] == 9


def test_a_symbolic_link_out_of_the_output_directory_is_refused(tmp_path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(outside)
    processor = writer(tmp_path, "link/{uniqueId}.npy")
    with pytest.raises(ConfigError, match="symbolic link leads outside"):
        processor.process(frame(1, sample(np.dtype("uint8"))))
    assert processor.getStats()["nErrors"] == 1 and list(outside.iterdir()) == []
    inside = writer(tmp_path, "sub/{uniqueId}.npy")  # a real subdirectory is fine
    inside.process(frame(1, sample(np.dtype("uint8"))))
    assert names(tmp_path / "out" / "sub") == ["1.npy"]


KILLED_AFTER_FLUSH = """
import os, signal, sys
import numpy as np
from pvaflow import Hdf5AdImageWriter, ntnd
processor = Hdf5AdImageWriter({"outputDirectory": sys.argv[1], "nImagesPerFile": 100, "flushPeriod": 1e-9})
for i in range(1, 6):
    processor.process(ntnd.generate(i, np.full((64, 64), i, dtype=np.uint8)))
os.kill(os.getpid(), signal.SIGKILL)  # dies with the file open, flushed after every frame
"""


def test_a_killed_hdf5_writer_leaves_a_readable_file_up_to_its_last_flush_reported_on_the_next_start(tmp_path):
    subprocess.run([sys.executable, "-c", KILLED_AFTER_FLUSH, str(tmp_path)], timeout=60)
    (partial,) = tmp_path.iterdir()
    assert partial.name.startswith(".000001.None.hdf.") and partial.name.endswith(".partial")
    with h5py.File(partial, "r") as h5:
        assert h5.attrs["nImages"] == 5 and h5["images"].shape == (5, 64, 64)
        assert list(h5["uniqueId"][:]) == [1, 2, 3, 4, 5]
        assert [int(h5["images"][i, 0, 0]) for i in range(5)] == [1, 2, 3, 4, 5]
    restarted = hdf5_writer(tmp_path, nImagesPerFile=100)
    restarted.process(frame(1, sample(np.dtype("uint8"))))
    restarted.stop()
    assert restarted.getStats()["nLeftoverPartialFiles"] == 1
    assert partial.exists()  # kept


@pytest.mark.parametrize("extension", [".gif", ".webp", ".ppm", ".pcx", ".tga", ".sgi"])
def test_any_format_pillow_writes_is_chosen_by_extension_as_in_pvapy(tmp_path, extension) -> None:
    image = sample(np.dtype("uint8"))
    processor = writer(tmp_path, "{uniqueId}" + extension)
    processor.process(frame(1, image))
    with Image.open(tmp_path / "out" / f"1{extension}") as saved:
        if extension == ".webp":
            assert saved.size == (7, 5)  # lossy by default
        else:
            np.testing.assert_array_equal(np.asarray(saved.convert("L")), image)
    with pytest.raises(ConfigError, match="cannot hold mono uint16"):
        processor.process(frame(2, sample(np.dtype("uint16"))))
