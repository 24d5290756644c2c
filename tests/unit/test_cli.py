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
        (["-ao", "5"], "--accumulate-objects needs a receiver queue", 2),
        (["-im", "ejfat"], "--input-mode ejfat: EJFAT needs the e2sar_py module", 2),
        (["-om", "pva"], "--output-mode pva needs --output-channel", 2),
        (["-om", "rpc", "-oc", "x", "-oa", '{"timeout": 0}'], "timeout must be a number of seconds > 0", 2),
        (["-mc", "tcp://x"], "protocol must be pva:// or ca://", 2),
        (["-im", "pvas"], "input mode pvas needs the processor's getInputPvObjectType()", 2),
        (["-pf", "/nonexistent.py", "-pc", "P"], "processor file /nonexistent.py does not exist", 1),
        (["-pc", "pvaflow.NoSuchProcessor"], "pvaflow has no class NoSuchProcessor", 1),
        (["-nc", "2", "-pc", "nosuchmodule.P"], "cannot import module nosuchmodule", 1),
    ],
)
def test_consumer_refuses_bad_options_with_one_line(args: list[str], message: str, code: int) -> None:
    result = run_cli("consumer", "-ic", "x", *args)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


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
