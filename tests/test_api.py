"""Public API, import hygiene, and the command line."""
import json
import subprocess
import sys

import pytest

import scoreuq as su
from scoreuq.cli import main


def test_public_names_exist():
    for mod in (su, su.data, su.metrics, su.sampling, su.processes):
        for name in mod.__all__:
            assert hasattr(mod, name), f"{mod.__name__}.{name}"


def test_import_pulls_no_heavy_optional_modules():
    code = (
        "import sys, scoreuq, scoreuq.data, scoreuq.metrics, scoreuq.sampling;"
        "bad = [m for m in ('matplotlib', 'dask', 'ot', 'scipy.stats', 'pandas', 'mlxtend', 'sklearn') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import scoreuq pulled {out}"


def test_demo_runs_and_writes_outputs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--n", "300", "--steps", "100", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "W1(gen, true)" in printed
    rec = json.loads((out / "demo.json").read_text())
    assert {r["sampler"] for r in rec["rows"]} == {"euler_maruyama", "predictor_corrector", "probability_flow"}
    assert all(r["w1_to_truth"] < 3 * r["w1_true_vs_true"] for r in rec["rows"])
    assert (out / "demo.png").stat().st_size > 10000
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left behind"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--n", "0"], "--n must be an integer >= 1, got '0'"),
        (["demo", "--steps", "-3"], "--steps must be an integer >= 1, got '-3'"),
        (["demo", "--n", "many"], "--n must be an integer >= 1, got 'many'"),
        (["nope"], "invalid choice: 'nope'"),
    ],
)
def test_bad_cli_input_exits_2_and_writes_nothing(argv, message, tmp_path, capsys):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--out", str(out)] if argv[0] == "demo" else argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_out_pointing_at_a_file_exits_2(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("keep me")
    assert main(["demo", "--n", "10", "--out", str(f)]) == 2
    assert "--out must be a directory" in capsys.readouterr().err
    assert f.read_text() == "keep me"


def test_cli_entry_point_subprocess(tmp_path):
    r = subprocess.run([sys.executable, "-m", "scoreuq", "demo", "--n", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "--n must be an integer >= 1" in r.stderr


def test_help_and_version_import_no_torch():
    """`scoreuq --help` stays fast (~0.15 s here) because the parser is built before torch loads."""
    code = ("import sys, contextlib, io\n"
            "from scoreuq.cli import main\n"
            "for argv in (['--help'], ['study', '--help'], ['--version']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            main(argv)\n"
            "        except SystemExit as exc:\n"
            "            assert exc.code == 0, exc.code\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
    ver = subprocess.run([sys.executable, "-m", "scoreuq", "--version"], capture_output=True, text=True, check=True).stdout
    assert ver.strip() == f"scoreuq {su.__version__}" and su.__version__ != "0+unknown"


def test_lazy_package_attributes():
    assert su.OrnsteinUhlenbeck is su.processes.OrnsteinUhlenbeck
    assert "studies" in dir(su)
    with pytest.raises(AttributeError):
        su.not_a_module


def test_runtime_failure_is_a_message_and_exit_1(monkeypatch, capsys):
    import scoreuq.cli as cli

    def boom(args):
        raise RuntimeError("the figure could not be laid out")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with(parser(), boom))
    monkeypatch.delenv("SCOREUQ_TRACEBACK", raising=False)
    assert cli.main(["report", "somewhere"]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: the figure could not be laid out" in err and "Traceback" not in err
    monkeypatch.setenv("SCOREUQ_TRACEBACK", "1")
    with pytest.raises(RuntimeError):
        cli.main(["report", "somewhere"])


def _with(parser, func):
    for action in parser._subparsers._group_actions[0].choices.values():
        action.set_defaults(func=func)
    return parser
