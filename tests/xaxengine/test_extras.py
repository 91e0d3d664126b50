"""The engine-extra check: commands that need the engine name the extra in one line when it is missing.

The real thin-client install (a wheel without the engine extra in a fresh venv) is in ``tests/test_packaging.py``.
"""

from pathlib import Path

import pytest

from xaxengine import cli, extras

REPO = Path(__file__).resolve().parents[2]


def test_everything_the_engine_extra_installs_is_found_here():
    assert extras.missing_engine_modules() == []
    assert all(extras.engine_hint(command) is None for command in extras.ENGINE_COMMANDS)


@pytest.mark.parametrize("argv", [["run", "tasks/mnist.toml"], ["resume", "latest"], ["schema", "x.toml"], ["devices"]])
def test_a_missing_engine_module_is_one_line_naming_the_extra_and_exit_2(argv, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(extras, "ENGINE_MODULES", ("jax", "not_installed_engine_module"))
    monkeypatch.chdir(tmp_path)
    assert cli.main([argv[0], *(str(REPO / a) if a.endswith(".toml") else a for a in argv[1:])]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "not_installed_engine_module" in err and "pip install 'xax-tui[engine]'" in err
    assert err.startswith(f"xaxengine: error: `xaxengine {argv[0]}` needs the engine")
    assert not (tmp_path / "runs").exists()


def test_the_jax_free_commands_never_ask_for_the_engine(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(extras, "ENGINE_MODULES", ("not_installed_engine_module",))
    assert cli.main(["ls", "--runs-dir", str(tmp_path)]) == 0
    assert "RUN" in capsys.readouterr().out
    assert extras.engine_hint("tail") is None and extras.engine_hint("stop") is None
