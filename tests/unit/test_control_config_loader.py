"""Control parsing, consumer configuration checks, processor loading, supervisor child command lines."""

from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest

from pvaflow import ConfigError, ProcessorLoadError
from pvaflow.ad_image_processor import AdImageProcessor
from pvaflow.processor import UserDataProcessor
from pvaflow.stream.config import ConsumerOptions, consumer_config
from pvaflow.stream.control import ControlError, parse_command
from pvaflow.stream.loader import create_processor, load_processor_class, parse_processor_args
from pvaflow.supervisor import consumer_commands


@pytest.mark.parametrize(
    ("command", "args", "name", "config"),
    [
        ("configure", '{"x": 1}', "configure", {"x": 1}),
        ("configure", "", "configure", {}),
        ("configure", '{"objectIdOffset": 3, "skipInitialUpdates": 0}', "configure",
         {"objectIdOffset": 3, "skipInitialUpdates": 0}),
        # pvaPy takes int(value): system keys given as strings, and nSequentialUpdates
        ("configure", '{"objectIdOffset": "3", "nSequentialUpdates": "2"}', "configure",
         {"objectIdOffset": 3, "nSequentialUpdates": 2}),
        (" reset_stats ", "ignored", "reset_stats", {}),
        ("get_stats", "", "get_stats", {}),
        ("stop", "", "stop", {}),
    ],
)
def test_valid_commands(command, args, name, config) -> None:
    parsed = parse_command(command, args)
    assert (parsed.name, parsed.config) == (name, config)


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("", "", r"unrecognized command specified\): ''"),
        ("Stop", "", r"unrecognized command specified\): 'Stop'"),
        ("x" * 500, "", "..."),
        ("configure", "{", "not valid JSON"),
        ("configure", "3", "must be a JSON object, not int"),
        ("configure", '{"receiverQueueSize": -1}', "receiverQueueSize must be an integer from 0 to 1000000"),
        ("configure", '{"receiverQueueSize": 100000000000}', "receiverQueueSize must be an integer from 0 to"),
        ("configure", '{"receiverQueueSize": 1e11}', "receiverQueueSize must be an integer from 0 to"),
        ("configure", '{"objectIdOffset": 0}', "objectIdOffset must be an integer from 1 to"),
        ("configure", '{"objectIdOffset": true}', "objectIdOffset must be an integer from 1 to"),
        ("configure", '{"skipInitialUpdates": 1.5}', "skipInitialUpdates must be an integer from 0 to"),
        ("configure", " " * 70000, "more than 65536"),
    ],
)
def test_bad_commands_give_one_line(command, args, message) -> None:
    with pytest.raises(ControlError, match=message.replace(".", r"\.").replace("(", r"\(")) as info:
        parse_command(command, args)
    assert "\n" not in str(info.value) and len(str(info.value)) < 200


def options(**values) -> ConsumerOptions:
    return ConsumerOptions(input_channel=values.pop("input_channel", "in:*"), **values)


def test_config_resolves_names_offsets_and_request() -> None:
    config = consumer_config(
        options(n_consumers=4, consumer_id=1, distributor_updates="3", output_channel="out:*", status_channel="_",
                control_channel="_", id_format_spec="02d", server_queue_size=10, processor_args='{"a": 1}'),
        consumer_id=2,
    )
    assert config.input_channel == "in:02"
    assert config.output_channel == "out:02"
    assert config.status_channel == "pvapy:consumer:02:status"
    assert config.control_channel == "pvapy:consumer:02:control"
    assert (config.oid_offset, config.updates) == (10, 3)
    assert config.monitor_request == "record[queueSize=10]field(_[pydistributor=updates:3])"
    assert config.receiver_queue_size is None
    processor_config = config.processor_config()
    assert processor_config["a"] == 1 and processor_config["processorId"] == 2
    assert processor_config["objectIdField"] == "uniqueId"


def test_explicit_offset_and_id_list() -> None:
    ids_options = options(consumer_id_list=(5, 7), oid_offset=3, receiver_queue_size=0)
    assert ids_options.consumer_ids == [5, 7]
    config = consumer_config(ids_options, 7)
    assert config.oid_offset == 3 and config.receiver_queue_size == 0


def test_object_id_offset_of_the_processor_args_is_the_consumers_without_oid_offset() -> None:
    """pvaPy's processing-chain example sets "objectIdOffset": "25" in -pa; pvaPy overrides it with the derived
    offset (1), so its file writers count the 24 ids between their batches as missed."""
    config = consumer_config(options(processor_args='{"objectIdOffset": "25"}'), 1)
    assert config.oid_offset == 25 and config.processor_config()["objectIdOffset"] == 25
    config = consumer_config(options(processor_args='{"objectIdOffset": 25}', oid_offset=3), 1)
    assert config.oid_offset == 3, "--oid-offset wins"
    with pytest.raises(ConfigError, match="objectIdOffset in --processor-args must be"):
        consumer_config(options(processor_args='{"objectIdOffset": "x"}'), 1)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"input_mode": "ejfat"}, "EJFAT needs the e2sar_py module"),
        ({"output_mode": "ejfat", "output_channel": "x"}, "EJFAT needs the e2sar_py module"),
        ({"input_mode": "tcp"}, "unknown input mode 'tcp' \\(choose from pva, ca, pvas, rpc\\)"),
        ({"output_mode": "tcp"}, "unknown output mode 'tcp'"),
        ({"output_mode": "rpc"}, "--output-mode rpc needs --output-channel"),
        ({"output_mode": "pva", "output_channel": "x", "output_args": "{"}, "--output-args are not valid JSON"),
        ({"output_mode": "pva", "output_channel": "x", "output_args": "[]"}, "must be a JSON object, not list"),
        ({"output_mode": "pva", "output_channel": "x", "output_args": '{"tmeout": 1}'}, "unknown keys \\['tmeout'\\]"),
        ({"output_mode": "pva", "output_channel": "x", "output_args": '{"timeout": "1"}'}, "timeout must be a number"),
        ({"output_args": '{"timeout": 1}'}, "unknown keys \\['timeout'\\] \\(known: none for this mode\\)"),
        ({"input_mode": "pvas", "input_args": '{"x": 1}'}, "--input-args: unknown keys"),
        ({"input_mode": "rpc", "distributor_updates": "2"}, "apply to monitors \\(pva, ca\\) only"),
        ({"input_mode": "pvas", "server_queue_size": 10}, "apply to monitors"),
        ({"distributor_updates": "two"}, "must be an integer, not 'two'"),
        ({"distributor_updates": "0"}, "must be >= 1"),
        ({"processor_args": "{'a': 1}"}, "not valid JSON"),
        ({"processor_args": "[1]"}, "must be a JSON object, not list"),
        ({"processor_file": "x.py"}, "needs --processor-class"),
        ({"metadata_channels": "tcp://x"}, "protocol must be pva:// or ca://"),
        ({"metadata_channels": "pva://x,pva://x"}, "'x' is given twice"),
        ({"metadata_channels": "pva://"}, "must not be empty"),
        ({"n_consumers": 0}, "--n-consumers must be >= 1"),
    ],
)
def test_invalid_options_are_refused(values, message) -> None:
    with pytest.raises(ConfigError, match=message):
        consumer_config(options(**values), 1)


def test_values_pvapy_accepts_have_pvapys_meaning(caplog) -> None:
    """Issue 19: negative -rt, -rp, -oo, -siu, -ao without -rqs, -nds without -ds, unknown -rs names, -at <= 0."""
    config = consumer_config(options(runtime=0.0, report_period=0.0, oid_offset=-5, skip_initial_updates=-1,
                                     accumulate_objects=5, n_distributor_sets=2, report_stats="receiver,bogus",
                                     accumulation_timeout=-1.0), 1)
    assert config.oid_offset == 1 and config.skip_initial_updates == 0  # derived offset; no update skipped
    assert config.accumulate_objects == 0  # ignored without a receiver queue
    assert config.report_sections == ("receiver",)
    assert "--accumulate-objects is ignored" in caplog.text and "bogus not known" in caplog.text
    collector = collector_config_of(input_channel="p:*", skip_initial_updates=-2)
    assert collector.skip_initial_updates == 0


def collector_config_of(**values):
    from pvaflow.stream.config import CollectorOptions, collector_config

    return collector_config(CollectorOptions(**values))


def test_processor_config_has_pvapys_keys() -> None:
    config = consumer_config(options(input_mode="pva", output_mode="pva", output_channel="x:in",
                                     output_args='{"timeout": 2}', field_request="value,dimension"), 1)
    keys = config.processor_config()
    assert {key: keys[key] for key in ("inputMode", "inputArgs", "outputMode", "outputArgs", "fieldRequest")} == {
        "inputMode": "pva", "inputArgs": None, "outputMode": "pva", "outputArgs": '{"timeout": 2}',
        "fieldRequest": "value,dimension"}
    assert collector_config_of(input_channel="p:*").processor_config()["inputMode"] == "pva"


def test_processor_args_are_json_not_python() -> None:
    assert parse_processor_args('{"path": "/tmp", "n": 2}') == {"path": "/tmp", "n": 2}
    with pytest.raises(ConfigError):
        parse_processor_args("__import__('os').getcwd()")


def test_default_processor_and_pvapy_aliases() -> None:
    assert load_processor_class(None, None) is UserDataProcessor
    assert load_processor_class(None, "pvapy.hpc.userDataProcessor.UserDataProcessor") is UserDataProcessor
    assert load_processor_class(None, "pvapy.hpc.adImageProcessor.AdImageProcessor") is AdImageProcessor
    assert load_processor_class(None, "pvaflow.AdImageProcessor") is AdImageProcessor
    with pytest.raises(ProcessorLoadError, match="no pvaflow equivalent yet"):
        load_processor_class(None, "pvapy.hpc.someOther.Processor")


def write(tmp_path, text: str):
    path = tmp_path / "user_processor.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_processor_from_file(tmp_path) -> None:
    path = write(tmp_path, """
        from pvaflow import UserDataProcessor
        class Mine(UserDataProcessor):
            pass
    """)
    cls = load_processor_class(path, "Mine")
    assert create_processor(cls, {"a": 1}).configDict == {"a": 1}


@pytest.mark.parametrize(
    ("source", "class_name", "message"),
    [
        ("x = (\n", "Mine", r"user_processor\.py:1: cannot import processor file: SyntaxError"),
        ("raise RuntimeError('boom')\n", "Mine", r"user_processor\.py:1: cannot import processor file: RuntimeError"),
        ("class Other: pass\n", "Mine", "has no class Mine"),
        ("Mine = 3\n", "Mine", "Mine is not a class"),
        ("class Mine:\n    def process(self, pv): pass\n", "Mine", "lacks start, stop, configure"),
    ],
)
def test_bad_processor_files_name_file_and_line(tmp_path, source, class_name, message) -> None:
    path = write(tmp_path, source)
    with pytest.raises(ProcessorLoadError, match=message) as info:
        load_processor_class(path, class_name)
    assert "\n" not in str(info.value)


def test_failing_constructor_names_its_line(tmp_path) -> None:
    path = write(tmp_path, """
        from pvaflow import UserDataProcessor
        class Mine(UserDataProcessor):
            def __init__(self, configDict):
                super().__init__(configDict)
                self.n = int(configDict["n"])
    """)
    with pytest.raises(ProcessorLoadError, match=r"user_processor\.py:6: Mine\(configDict\) failed: KeyError"):
        create_processor(load_processor_class(path, "Mine"), {})


def test_missing_file_and_module() -> None:
    with pytest.raises(ProcessorLoadError, match="does not exist"):
        load_processor_class("/nonexistent/p.py", "P")
    with pytest.raises(ProcessorLoadError, match="cannot import module no_such_module"):
        load_processor_class(None, "no_such_module.P")
    with pytest.raises(ProcessorLoadError, match="needs --processor-file"):
        load_processor_class(None, "JustAName")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["consumer", "-ic", "x", "-nc", "3", "-du", "1"],
         ["consumer", "-ic", "x", "-du", "1", "--disable-curses", "--consumer-id", "2", "--oid-offset", "3"]),
        (["consumer", "--consumer-id-list=range(1,4)", "-ic", "x", "-id", "1", "--oid-offset", "0", "-dc"],
         ["consumer", "-ic", "x", "-dc", "--consumer-id", "2", "--oid-offset", "3"]),
    ],
)
def test_child_command_lines(argv, expected) -> None:
    config = SimpleNamespace(host_id=2, oid_offset=3)  # what a command line takes of a consumer's config
    assert consumer_commands(argv, [config]) == [expected]


def test_collector_config() -> None:
    from pvaflow.memory import physical_memory
    from pvaflow.stream.config import CollectorOptions, collector_config

    config = collector_config(CollectorOptions(input_channel="p:*:out", producer_id_list="range(1,5)",
                                               output_channel="_", id_format_spec="02d"))
    assert config.producer_channels == {1: "p:01:out", 2: "p:02:out", 3: "p:03:out", 4: "p:04:out"}
    assert config.processor_config()["inputChannel"] == "p:*:out"  # the pattern, as pvaPy gives its processors
    assert config.output_channel == "pvapy:collector:01:output"
    assert (config.role, config.cache_size, config.receiver_queue_size) == ("collector", 40, 400)
    assert collector_config(CollectorOptions(input_channel="p:*", collector_cache_size=1)).cache_size == 2
    unbounded = collector_config(CollectorOptions(input_channel="p:*", receiver_queue_size=0))
    assert unbounded.receiver_queue_size == 0  # no limit, as pvaPy's -rqs 0
    # by default the count bound grows to what fits in 1/8 of the memory; a size given stands alone
    assert config.receiver_queue_bytes == physical_memory() // 8 > 0
    assert (unbounded.receiver_queue_bytes, collector_config(CollectorOptions(
        input_channel="p:*", receiver_queue_size=10)).receiver_queue_bytes) == (0, 0)
    for values, message in [
        ({"input_channel": "same"}, "needs '\\*' to tell 2 producers apart"),
        ({"input_channel": "p:*", "collector_gap_wait": 0}, "--collector-gap-wait must be > 0"),
        ({"input_channel": "p:*", "oid_offset": 0}, "--oid-offset must be >= 1"),
        ({"input_channel": "p:*", "producer_id_list": "1,x"}, "id list"),
    ]:
        with pytest.raises(ConfigError, match=message):
            collector_config(CollectorOptions(**values))
