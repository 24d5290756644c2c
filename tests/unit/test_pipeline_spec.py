"""Pipeline files: wiring of channels between stages and one clear message per mistake, before anything starts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pvaflow import ConfigError
from pvaflow.cli.pipeline_file import CHECKS, stage_parsers
from pvaflow.pipeline.runner import Runner, StageProcess, option
from pvaflow.pipeline.spec import load_pipeline, select, stage_config, start_order
from pvaflow.pipeline.stage_options import option_argv
from pvaflow.supervisor import Child

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"
SOURCE = """
[stages.source]
kind = "sim-server"
frame-rate = 10
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "p.toml"
    path.write_text(textwrap.dedent(text))
    return load_pipeline(path, stage_parsers(), CHECKS)


def test_channels_are_wired_by_stage_name(tmp_path: Path) -> None:
    pipeline = load(tmp_path, SOURCE + """
        [pipeline]
        name = "demo"
        [stages.work]
        kind = "consumer"
        reads = "source"
        n-consumers = 2
        distributor-updates = "1"
        [stages.pair]
        kind = "consumer"
        reads = "work"
        n-consumers = 2
        [stages.gather]
        kind = "collector"
        reads = "pair"
        [stages.copy]
        kind = "mirror"
        reads = "gather"
        queue-size = 7
    """)
    stages = pipeline.stages
    assert list(stages) == ["source", "work", "pair", "gather", "copy"]
    (source,) = stages["source"].commands
    assert source[:3] == ["sim-server", "--channel-name", "demo:source:image"]
    assert "--start-delay" in source  # the pipeline's start delay by default
    first, second = stages["work"].commands  # one process per consumer, each with pvaPy's derived id offset
    assert first[first.index("--input-channel") + 1] == "demo:source:image"
    assert first[-4:] == ["--consumer-id", "1", "--oid-offset", "2"]
    assert second[-4:] == ["--consumer-id", "2", "--oid-offset", "2"]
    assert "--n-consumers" not in first
    assert stages["work"].status == ["demo:work:1:status", "demo:work:2:status"]
    pair = stages["pair"].commands[0]
    assert pair[pair.index("--input-channel") + 1] == "demo:work:*:output"  # consumer i reads consumer i
    (gather,) = stages["gather"].commands
    assert gather[gather.index("--input-channel") + 1] == "demo:pair:*:output"
    assert gather[gather.index("--producer-id-list") + 1] == "1,2"
    (copy,) = stages["copy"].commands
    assert copy[copy.index("--channel-map") + 1] == "(demo:copy:image,demo:gather:output,pva,7)"
    assert [stage.name for stage in pipeline.sinks()] == ["copy"]


def test_external_channel_source_and_relative_processor_file(tmp_path: Path) -> None:
    (tmp_path / "proc.py").write_text("from pvaflow import UserDataProcessor\nclass P(UserDataProcessor):\n    pass\n")
    pipeline = load(tmp_path, """
        [stages.detector]
        kind = "channel"
        channel = "13SIM1:Pva1:Image"
        [stages.work]
        kind = "consumer"
        reads = "detector"
        processor-file = "proc.py"
        processor-class = "P"
    """)
    (argv,) = pipeline.stages["work"].commands
    assert argv[argv.index("--input-channel") + 1] == "13SIM1:Pva1:Image"
    assert argv[argv.index("--processor-file") + 1] == str(tmp_path / "proc.py")
    assert pipeline.stages["detector"].commands == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[stages.a\n", "not valid TOML"),
        ("[stage.a]\nkind='sim-server'\n", "unknown tables \\['stage'\\]"),
        ("[pipeline]\nnmae='x'\n" + SOURCE, "\\[pipeline\\]: unknown keys \\['nmae'\\]"),
        ("[pipeline]\nrestart='always'\n" + SOURCE, "restart must be one of never, on-failure"),
        ("[pipeline]\nmax-restarts=-1\n" + SOURCE, "max-restarts must be a number >= 0"),
        ("", "no stages"),
        (SOURCE + "frme-rate = 5\n",
         "stage source: unknown sim-server option 'frme-rate' \\(did you mean frame-rate\\?\\)"),
        (SOURCE + "n-frames = 'many'\n", "stage source: n-frames: must be an integer"),
        (SOURCE + "disable-curses = 3\n", "stage source: disable-curses is a flag: true or false, not 3"),
        (SOURCE + "log-level = 'loud'\n", "stage source: log-level must be one of debug, .*, not 'loud'"),
        (SOURCE + "channel-name = 'x'\n", "stage source: channel-name is set by the runner"),
        (SOURCE + "reads = 'x'\n", "a sim-server stage is a source and reads nothing"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\n", "stage w: a consumer stage needs reads"),
        (SOURCE + "[stages.w]\nkind = 'worker'\nreads = 'source'\n", "kind must be one of"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'nowhere'\n", "stage w: reads unknown stage 'nowhere'"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'source'\nprocessor-class = 'NoSuch'\n",
         "stage w: .*NoSuch"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'source'\nprocessor-args = '{bad'\n",
         "stage w: processor args are not valid JSON"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'source'\ninput-channel = 'x'\n",
         "input-channel is set by the runner"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'source'\nn-consumers = 2\n"
                  "[stages.v]\nkind = 'consumer'\nreads = 'w'\n", "reads 2 consumers of stage w"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'v'\n[stages.v]\nkind = 'consumer'\nreads = 'w'\n",
         "stages form a cycle: w -> v -> w"),
        ("[stages.w]\nkind = 'consumer'\nreads = 'w'\n", "stages form a cycle: w -> w"),
        ("[stages.w]\nkind = 'channel'\n", "a channel stage needs channel"),
        (SOURCE + "[stages.m]\nkind = 'mirror'\nreads = 'source'\nqueue-size = -2\n", "queue-size must be an integer"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'source'\nqueue-size = 2\n", "queue-size is for mirror"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'source'\nn-consumers = 'two'\n",
         "stage w: n-consumers must be an integer >= 1, not 'two'"),
        (SOURCE + "[stages.w]\nkind = 'consumer'\nreads = 'source'\ndistributor-updates = 'x'\n",
         "stage w: --distributor-updates must be an integer, not 'x'"),
    ],
)
def test_mistakes_are_one_line_each(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, text)
    assert "\n" not in str(info.value)


def test_a_stage_and_its_command_line_give_the_same_configs(tmp_path: Path) -> None:
    """Two front doors to one config: the stage's options, checked without a command line, give the configs the
    stage's command line gives (the processes are started with per-consumer lines derived from it)."""
    pipeline = load(tmp_path, SOURCE + """
        [stages.work]
        kind = "consumer"
        reads = "source"
        n-consumers = 3
        distributor-updates = "2"
        receiver-queue-size = 50
        processor-args = { threshold = 7 }
        report-period = 0.5
        """)
    work = pipeline.stages["work"]
    parser = stage_parsers()["consumer"]
    from_stage = stage_config(work, parser, CHECKS["consumer"])
    from_command_line = CHECKS["consumer"](parser.parse_args(option_argv(work.wired_options)))
    assert from_stage == from_command_line and len(from_stage) == 3
    assert [config.oid_offset for config in from_stage] == [5, 5, 5]


def test_start_order_puts_each_stage_after_what_it_reads() -> None:
    class S:
        def __init__(self, name, reads):
            self.name, self.reads = name, reads

    stages = {"c": S("c", "b"), "b": S("b", "a"), "a": S("a", None), "d": S("d", "a")}
    order = start_order(stages)
    assert order.index("a") < order.index("b") < order.index("c") and order.index("a") < order.index("d")


def test_only_selects_stages_and_refuses_unknown_ones() -> None:
    pipeline = load_pipeline(EXAMPLES / "distributed.toml", stage_parsers(), CHECKS)
    assert [stage.name for stage in select(pipeline, "ordered, workers")] == ["workers", "ordered"]
    with pytest.raises(ConfigError, match="--only: unknown stages \\['wrkers'\\]"):
        select(pipeline, "wrkers")


@pytest.mark.parametrize("example", sorted(path.name for path in EXAMPLES.glob("*.toml")))
def test_every_example_pipeline_is_valid(example: str) -> None:
    pipeline = load_pipeline(EXAMPLES / example, stage_parsers(), CHECKS)
    assert pipeline.sources() and pipeline.sinks()


@pytest.mark.parametrize(("offset", "gap"), [("1", 28), ("2", 0)])
def test_ids_lost_while_a_stage_restarted_are_counted_missed(offset: str, gap: int) -> None:
    """The runner's accounting across a restart: only for a process that gets every object."""
    process = StageProcess("work", Child("stage work", ["consumer", "--consumer-id", "1", "--oid-offset", offset]), [])
    process.carried = {"nProcessed": 20.0, "nMissed": 1.0}
    process.resume_after = 20
    process.ids = (0, 0)
    assert process.count_restart_gap() == 0 and process.resume_after == 20  # nothing processed yet
    process.ids = (49, 60)
    assert process.count_restart_gap() == gap
    assert process.carried["nMissed"] == 1 + gap and process.resume_after is None
    command = process.child.command
    assert option(command, "--oid-offset") == offset and option(command, "--nothing") is None


def test_a_source_that_sent_its_n_frames_has_finished_when_every_stage_runs_here(tmp_path: Path) -> None:
    """The pipeline may drain then, without waiting out the source's shutdown delay; with --only (stages run
    elsewhere, their movement unseen) only the source's exit says so."""
    pipeline = load(tmp_path, SOURCE + """
        n-frames = 5
        [stages.work]
        kind = "consumer"
        reads = "source"
    """)
    everything = Runner(pipeline, select(pipeline, None), lambda *_: None)
    source_only = Runner(pipeline, select(pipeline, "source"), lambda *_: None)
    for runner in (everything, source_only):
        runner.counter.n_frames = 4
        assert not runner.sources_done()
        runner.counter.n_frames = 5
    assert everything.sources_done()
    assert not source_only.sources_done()
