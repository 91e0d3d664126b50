"""The docs cannot rot: generated references match the code, the task-writing guide runs, links resolve."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, engine_env
from xaxengine.protocol import read_events

GUIDE = REPO / "docs" / "writing-a-task.md"


def test_generated_references_match_the_code():
    proc = subprocess.run(
        [sys.executable, "scripts/gen_docs.py", "--check"],
        cwd=REPO,
        env=engine_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_config_reference_lists_every_engine_field_and_keys_reference_every_key():
    from xaxengine.config import config_schema
    from xaxengine.task.task import SupervisedConfig
    from xaxtui.keys import KEYS, display_key

    reference = (REPO / "docs" / "config-reference.md").read_text()
    missing = [row["name"] for row in config_schema(SupervisedConfig) if f"| `{row['name']}` |" not in reference]
    assert not missing
    keys = (REPO / "docs" / "keys.md").read_text()
    assert all(f"| `{display_key(k.key)}` | {k.description} | {k.help} |" in keys for k in KEYS)


@pytest.fixture(scope="module")
def guide_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of the guide, written out as a reader would copy them."""
    folder = tmp_path_factory.mktemp("guide")
    files = re.findall(r"<!-- file: (\S+) -->\n```\w+\n(.*?)```", GUIDE.read_text(), re.S)
    assert {name for name, _ in files} == {"sine.py", "sine.toml", "launch_sine.py"}
    for name, body in files:
        (folder / name).write_text(body)
    return folder


def _guide_commands() -> list[tuple[str, str]]:
    return re.findall(r"<!-- run: (\S+) -->\n```bash\n(.*?)\n```", GUIDE.read_text(), re.S)


@pytest.mark.parametrize(("label", "command"), [*_guide_commands(), ("python", "python launch_sine.py")])
def test_the_guide_task_trains_each_way_it_shows(guide_dir: Path, label: str, command: str):
    env = engine_env(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(REPO))
    before = set((guide_dir / "runs" / "sine").glob("*")) if (guide_dir / "runs" / "sine").exists() else set()
    proc = subprocess.run(
        command, shell=True, cwd=guide_dir, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, f"{label}: {proc.stderr[-2000:]}"
    (run_dir,) = set((guide_dir / "runs" / "sine").glob("*")) - before
    events = read_events(run_dir / "events.jsonl")
    valid = [e["values"] for e in events if e["kind"] == "scalars" and e["phase"] == "valid"]
    # sin(3x) on [-2, 2] has variance ~0.5; the MLP must get well below it in 300 steps
    assert valid[-1]["loss"] < 0.1 and "mae" in valid[-1]
    assert (run_dir / "config.toml").read_text().startswith('task = "sine:SineTask"')


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = []
    for page in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken


SCREENS = {  # each picture of the README's "Screens" section and a text that only its view shows
    "docs/screens/run_view.svg": "checkpoints",
    "docs/screens/compare.svg": "comparing 2 runs",
    "docs/screens/config_diff.svg": "2 of 7 config keys differ",
    "docs/screens/media.svg": "image samples",
}


def svg_text(path: Path) -> str:
    """The terminal text of a Textual SVG screenshot, line by line (spaces as Textual writes them, unescaped)."""
    rows: dict[str, list[str]] = {}
    for y, text in re.findall(r'<text [^>]*y="([\d.]+)"[^>]*>([^<]*)</text>', path.read_text()):
        rows.setdefault(y, []).append(text.replace("&#160;", " ").replace("&amp;", "&"))
    return "\n".join("".join(parts) for parts in rows.values())


def test_the_readme_screens_show_every_screenshot():
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Screens\n", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"!\[[^\]]+\]\(([^)]+)\)", section) == list(SCREENS)
    for rel, marker in SCREENS.items():
        path = REPO / rel
        assert path.is_file() and path.read_text().lstrip().startswith("<svg"), rel
        assert marker in svg_text(path), rel


def test_the_screenshot_script_draws_each_view(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "screenshots.py"), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for rel, marker in SCREENS.items():
        assert marker in svg_text(tmp_path / Path(rel).name), rel
    media = (tmp_path / "media.svg").read_text()
    assert media.count("▀") > 1000  # the sample grid drawn in half-blocks (66x33 cells)
