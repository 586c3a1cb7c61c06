"""The documentation: the site builds under `mkdocs build --strict`, and every command it shows is
run by a test or says why it is not.

Each block of commands in `docs/` and the README (a fenced `bash`, `sh`, `console` or `python`
block, or any block with a `$ ` prompt) is preceded by one marker line:

    <!-- commands: run -->              run here as written
    <!-- commands: run shrunk -->       run here on the named studies' smoke twins and tiny data
    <!-- commands: run, each exits 2 -->  run here as written: each is refused with one line
    <!-- commands: not run: <reason> --> not run, and why (a server, a cluster, minutes of work...)

"Run shrunk" is what keeps a documented sweep to seconds: every `sweep=NAME` (and a study named
in a report command or in Python) becomes its `NAME_smoke` twin from `sweeps/`, and a command
that trains gets `SHRINK` for the keys it does not set itself. The commands of a page run in
order in one launch folder, so a report command reads the sweep before it; `<parent run id>`
stands for the newest sweep there."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
MARK = re.compile(r"^<!-- commands: (run shrunk|run, each exits 2|run|not run: (?P<why>.+)) -->$")
SHELL = {"bash", "sh", "shell", "python"}  # a block in these is all commands
ALIASES = {"py": "python", "zsh": "bash"}
ABLATE = ("ablate", "ablate.report")  # what `python -m` may run here
SMOKE = {p.stem.removesuffix("_smoke") for p in (ROOT / "sweeps").glob("*_smoke.yaml")}
# a documented sweep shrunk to seconds: the keys a command does not set itself
SHRINK = {"data.limit": "200", "trainer.epochs": "2", "replicates": "2", "eval.kmeans_seeds": "2",
          "eval.n_init": "1", "trainer.progress": "false"}  # fmt: skip
SEARCH = {"hydra.sweeper.n_trials": "2"}  # and a search's trials, per arm


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # where the block opens (1-based)
    language: str
    mark: str | None  # "run", "run shrunk", "not run: ..." or None
    body: str
    shown: str | None  # the output the page shows right after it (a `text` block), if any

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def commands(self) -> list[str]:
        """The block's commands: continued lines joined, comments and output lines dropped."""
        if self.language == "python":
            return [self.body]
        joined = re.sub(r"\\\n\s*", " ", self.body)
        lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines()]
        if self.language not in SHELL:  # a transcript: its commands are the prompted lines
            return [line[2:] for line in lines if line.startswith("$ ")]
        return [line.removeprefix("$ ") for line in lines if line and not line.startswith("#")]


def blocks(page: Path) -> list[Block]:
    """The command blocks of a page, with the marker line before each."""
    found, lines, i = [], page.read_text().splitlines(), 0
    while i < len(lines):
        fence = re.match(r"\s*(```|~~~)\s*(\S*)", lines[i])
        if fence:  # the language is the info string's first word (```bash title="x" is bash)
            language, start = ALIASES.get(fence.group(2), fence.group(2)), i
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence.group(1)))
            body = textwrap.dedent("\n".join(lines[i + 1 : end]))
            if language in SHELL or re.search(r"^\$ ", body, flags=re.M):
                before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
                mark = MARK.match(before.strip())
                after = next((j for j in range(end + 1, len(lines)) if lines[j].strip()), None)
                shown = None
                if after is not None and lines[after].strip() == "```text":
                    close = next(j for j in range(after + 1, len(lines)) if lines[j].strip() == "```")
                    shown = "\n".join(lines[after + 1 : close])
                found.append(Block(page, start + 1, language, mark.group(1) if mark else None, body, shown))
            i = end
        i += 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]
RUN = [b for b in ALL if b.mark and b.mark.startswith("run")]


def test_every_command_block_is_run_or_says_why_not():
    unmarked = [b.where for b in ALL if b.mark is None]
    assert not unmarked, f"command blocks without a `<!-- commands: ... -->` line: {unmarked}"
    vague = [b.where for b in ALL if b.mark.startswith("not run") and len(b.mark) < len("not run: ") + 15]
    assert not vague, f"a block not run says why, in words: {vague}"
    for block in RUN:  # only ablate itself runs here; anything else is "not run", with its reason
        for command in block.commands() if block.language != "python" else []:
            words = shlex.split(command)
            assert words[:2] == ["python", "-m"] and words[2] in ABLATE, (block.where, command)
    # every marker line belongs to a block it describes (a marker before a block the parser does not
    # see would otherwise pass unnoticed)
    markers = sum(line.strip().startswith("<!-- commands:") for page in PAGES for line in page.read_text().splitlines())
    assert markers == len(ALL), (markers, len(ALL))
    studies = [
        w for b in RUN if b.mark == "run shrunk" for c in b.commands() for w in c.split() if w.startswith("sweep=")
    ]
    assert all(w.removeprefix("sweep=") in SMOKE for w in studies), studies  # each has its smoke twin


# an inline command (`python -m ablate -m ...` in a sentence) is a command shown too: it must also
# stand in a marked block of its page. A template (`sweep=NAME`, `<best>`, `key=value ...`) is not
# a command, and neither is a bare tool or module name.
INLINE = re.compile(r"`((?:python -m|python tools/|pytest|mkdocs|pip install|mlflow ui|docker) [^`]+)`")
TEMPLATE = re.compile(r"NAME|<[^>]+>|\.\.\.|key=value")


def inline_commands(page: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return [" ".join(m.split()) for m in INLINE.findall(text) if not TEMPLATE.search(m)]


def test_every_command_in_a_sentence_is_in_a_marked_block_of_its_page():
    missing = []
    for page in PAGES:
        shown = {" ".join(c.split()) for b in blocks(page) if b.mark for c in b.commands()}
        shown |= {part.strip() for c in shown for part in c.split("&&")}
        missing += [f"{page.relative_to(ROOT)}: {c}" for c in inline_commands(page) if c not in shown]
    assert not missing, "\n".join(missing)


def shrunk(command: list[str], trains: bool) -> list[str]:
    renamed = [re.sub(rf"^(sweep=)?({'|'.join(SMOKE)})$", r"\1\2_smoke", word) for word in command]
    if not trains or any(word.startswith("sweep=") for word in renamed):
        return renamed  # a smoke study is its own shrunk version
    given = {word.split("=", 1)[0].lstrip("+") for word in renamed if "=" in word}
    shrink = {**SHRINK, **(SEARCH if "hydra/sweeper=optuna" in renamed else {})}
    return renamed + [f"{key}={value}" for key, value in shrink.items() if key not in given]


def newest_sweep(launch: Path) -> str:
    client = MlflowClient(f"sqlite:///{launch / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    parents = client.search_runs(experiments, "tags.`ablate/sweep_key` LIKE '%'", order_by=["start_time DESC"])
    return parents[0].info.run_id


def run(block: Block, launch: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
    if block.language == "python":
        source = block.body
        if block.mark == "run shrunk":
            source = re.sub(rf"\"({'|'.join(SMOKE)})\"", r'"\1_smoke"', source)
        done = subprocess.run([sys.executable, "-c", source], cwd=launch, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (block.where, done.stderr[-3000:])
        return
    if block.mark == "run, each exits 2":  # in an empty folder of its own: nothing may be written
        launch = launch / f"refused-at-line-{block.line}"
        launch.mkdir()
    printed = ""
    for command in block.commands():
        if "<parent run id>" in command:
            command = command.replace("<parent run id>", newest_sweep(launch))
        words = shlex.split(command)
        trains = words[2] == "ablate" and not {"--help", "--dry-run"} & set(words)
        if block.mark == "run shrunk":
            words = shrunk(words, trains)
        done = subprocess.run(
            [sys.executable, *words[1:]], cwd=launch, env=env, capture_output=True, text=True, timeout=900
        )
        printed += done.stdout + done.stderr
        if block.mark == "run, each exits 2":  # bad input: one line, nothing written
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (words, done.stderr)
            assert not list(launch.iterdir()), (words, list(launch.iterdir()))
            continue
        assert done.returncode == 0, (block.where, words, done.stdout[-2000:], done.stderr[-3000:])
    for line in (block.shown or "").splitlines():  # the output the page shows (up to a "...") is printed
        assert line.split("...")[0].strip() in printed, (block.where, line, printed[-3000:])


@pytest.mark.slow  # every documented command, shrunk: real sweeps (a few minutes in all)
@pytest.mark.parametrize("page", sorted({b.page for b in RUN}), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_documented_commands_run(page, tmp_path):
    for block in [b for b in RUN if b.page == page]:
        run(block, tmp_path)


def mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_site_builds_strict_and_a_broken_link_fails_it(tmp_path):
    done = mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ablate.report.results.results" in (tmp_path / "site" / "reference" / "index.html").read_text()
    copy = tmp_path / "copy"  # the same site with one link to a page that does not exist
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(ROOT / "ablate", copy / "ablate")  # the API reference reads the sources
    page = copy / "docs" / "index.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    broken = mkdocs(copy / "mkdocs.yml", tmp_path / "broken")
    assert broken.returncode != 0 and "no-such-page.md" in broken.stderr, broken.stderr[-3000:]


def test_the_api_reference_documents_the_public_api():
    import ablate

    reference = (ROOT / "docs" / "reference.md").read_text()
    for name in [n for n in ablate.__all__ if n != "__version__"]:
        assert f"::: ablate.report.results.{name}\n" in reference, name
