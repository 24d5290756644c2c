"""The pvaflow command line: version, help, and one-line errors for bad options."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pvaflow
from pvaflow.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pvaflow", *args], capture_output=True, text=True, timeout=60
    )


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"pvaflow {pvaflow.__version__}"


def test_help_lists_subcommands(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "sim-server" in capsys.readouterr().out


def test_sim_server_help_has_pvapy_option_names(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["sim-server", "--help"])
    out = capsys.readouterr().out
    for option in ["-cn", "-nx", "-ny", "-cm", "-dt", "-mn", "-mx", "-fps", "-rt", "-nf", "-cs", "-if",
                   "-mm", "-hds", "-hcm", "-id", "-cfg", "-std", "-shd", "-rp", "-dc", "-npv", "-nvl",
                   "-mpv", "-sid"]:
        assert f"{option} " in out or f"{option}," in out, option


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-dt", "uint128"], "unknown datatype 'uint128'"),
        (["-cm", "1"], "unknown colour mode 1"),
        (["-if", "/nonexistent/frames.npy"], "does not exist"),
        (["-mpv", "http://x"], "protocol must be pva:// or ca://"),
        (["-sid", "0"], "argument -sid/--start-id: must be 1 to 2147483647, not 0"),
        # issue 18: values that gave tracebacks, hangs or were taken silently
        (["-nx", "65536", "-ny", "65536", "-dt", "float64"], "more than this machine's"),
        (["-nx", "100000"], "argument -nx/--n-x-pixels: must be 1 to 65536, not 100000"),
        (["-fps", "-5"], "argument -fps/--frame-rate: must be 0 to 1e+09, not -5"),
        (["-rt", "-1"], "argument -rt/--runtime: must be 0 to"),
        (["-std", "-3"], "argument -std/--start-delay: must be 0 to"),
        (["-cn", ""], "a channel name must not be empty"),
        (["-dt", "uint8", "-mn", "300"], "-mn 300 is above the largest uint8 value (255)"),
        (["-lf", "/nonexistent/dir/x"], "--log-file /nonexistent/dir/x: cannot write there"),
    ],
)
def test_bad_values_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli("sim-server", "-std", "0", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["-cid", "range(1,x)"], "id list 'range(1,x)'", 2),
        (["-pa", "{bad"], "processor args are not valid JSON", 2),
        (["-im", "ejfat"], "--input-mode ejfat: EJFAT needs the e2sar_py module", 2),
        (["-om", "pva"], "--output-mode pva needs --output-channel", 2),
        (["-om", "rpc", "-oc", "x", "-oa", '{"timeout": 0}'], "timeout must be a number of seconds > 0", 2),
        (["-mc", "tcp://x"], "protocol must be pva:// or ca://", 2),
        (["-im", "pvas"], "input mode pvas needs the processor's getInputPvObjectType()", 2),
        (["-pf", "/nonexistent.py", "-pc", "P"], "processor file /nonexistent.py does not exist", 1),
        (["-pc", "pvaflow.NoSuchProcessor"], "pvaflow has no class NoSuchProcessor", 1),
        (["-nc", "2", "-pc", "nosuchmodule.P"], "cannot import module nosuchmodule", 1),
        # issue 18: values that gave tracebacks, hangs or were taken silently
        (["-nc", "0"], "argument -nc/--n-consumers: must be 1 to 1000, not 0", 2),
        (["-nc", "-3"], "argument -nc/--n-consumers: must be 1 to 1000, not -3", 2),
        (["-nc", "100000"], "argument -nc/--n-consumers: must be 1 to 1000, not 100000", 2),
        (["-cid", "range(1,100001)"], "has 100000 ids, more than 1000", 2),
        (["-rqs", "100000000000"], "argument -rqs/--receiver-queue-size: must be -1 to 1000000", 2),
        (["-sqs", "10000000"], "argument -sqs/--server-queue-size: must be 0 to 10000", 2),
        (["-lf", "/nonexistent/dir/x"], "--log-file /nonexistent/dir/x: cannot write there", 2),
        (["-pf", "/tmp", "-pc", "P"], "processor file /tmp is a directory, not a Python file", 1),
        (["-pc", "AdOutputFileProcessor", "-pa", '{"outputFileNameFormat": "/abs/{uniqueId}.tiff"}'],
         "--processor-args: AdOutputFileProcessor: outputFileNameFormat '/abs/{uniqueId}.tiff' gives", 1),
    ],
)
def test_consumer_refuses_bad_options_with_one_line(args: list[str], message: str, code: int) -> None:
    result = run_cli("consumer", "-ic", "x", *args)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_sys_exit_at_import_of_a_processor_file_is_one_line(tmp_path) -> None:
    path = tmp_path / "exits.py"
    path.write_text("import sys\nsys.exit(3)\n")
    result = run_cli("consumer", "-ic", "x", "-pf", str(path), "-pc", "P")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "exits.py:2: cannot import processor file: sys.exit(3)" in lines[0], result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["status", "x", "-t", "0"], "argument -t/--timeout: must be > 0"),
    (["status", "x", "-w", "0"], "argument -w/--watch: must be 0.1 to"),
    (["control", "x", "stop", "-t", "-1"], "argument -t/--timeout: must be > 0"),
    (["run", "p.toml", "-rt", "-5"], "argument -rt/--runtime: must be 0 to"),
    (["mirror", "-cm", "(m,s,pva,0,100000)"], "number of monitors must be 1 to 1000, not 100000"),
    (["view", "x", "--bind", "127.0.0.1:99999"], "'127.0.0.1:99999' is not HOST[:PORT]"),
    (["view", "x", "--display-rate", "0"], "argument --display-rate: must be 0.1 to 60"),
    (["view"], "name at least one CHANNEL or --pipeline FILE"),
    (["view", "--pipeline", "/nonexistent/p.toml"], "/nonexistent/p.toml"),
    (["run", "examples/pipelines/distributed.toml", "--submit", "--view"],
     "--view with --submit: the job runs on a compute node"),
])
def test_other_tools_refuse_values_that_would_hang_or_overflow(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_run_checks_the_summary_path_and_only_before_starting(tmp_path) -> None:
    pipeline = tmp_path / "p.toml"
    pipeline.write_text('[stages.source]\nkind = "sim-server"\n')
    missing = run_cli("run", str(pipeline), "--summary", "/nonexistent/d/s.json")
    assert missing.returncode == 2 and "--summary /nonexistent/d/s.json: cannot write there" in missing.stderr
    empty = run_cli("run", str(pipeline), "--only", "")
    assert empty.returncode == 2 and "--only '' names no stage" in empty.stderr


def test_processor_start_failure_is_one_line(tmp_path) -> None:
    path = tmp_path / "bad_start.py"
    path.write_text(
        "from pvaflow import UserDataProcessor\n"
        "class BadStart(UserDataProcessor):\n"
        "    def start(self):\n"
        "        raise RuntimeError('detector not armed')\n"
    )
    result = run_cli("consumer", "-ic", "x", "-pf", str(path), "-pc", "BadStart", "-dc")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bad_start.py:4: processor start() failed: RuntimeError: detector not armed" in lines[0]
