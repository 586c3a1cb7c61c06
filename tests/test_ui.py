"""The MLflow UI in a real browser: the links a sweep prints open its arms side by side.

Headless Chromium (Debian's `chromium`) renders the compare link against a real `mlflow server`
on loopback; the rendered page must name the four arms and show their purity. Skipped, with one
line, where no Chromium is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from urllib.parse import unquote

import pytest
from helpers.runs import TINY
from helpers.server import serve
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow  # a server, a 4-arm sweep and a browser (~60 s)

ARMS = ("skip=True bottleneck=True", "skip=True bottleneck=False", "skip=False bottleneck=True",
        "skip=False bottleneck=False")  # fmt: skip
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def dom(url: str, screenshot=None) -> str:
    """The page's DOM after its scripts ran (90 s of virtual time: the chart view draws its plots
    lazily, and on a loaded machine 30 s was sometimes too few); optionally a PNG of it."""
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=90000",
             "--run-all-compositor-stages-before-draw", "--window-size=1900,1400"]  # fmt: skip
    if screenshot is not None:
        subprocess.run([*flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=180, check=True)
    return subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180, check=True).stdout


def text_of(page: str) -> str:
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page, flags=re.S))
    return " ".join(text.split())


def render(url: str, screenshot=None) -> str:
    """The page's text after its scripts ran."""
    return text_of(dom(url, screenshot))


def printed(out: str, what: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"mlflow: {what}: ")).split(": ", 2)[2]


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
def test_the_printed_links_show_the_four_arms_their_factors_and_purity_first(ablate_cli, launch_dir, tmp_path_factory):
    with serve(tmp_path_factory.mktemp("ui")) as server:
        uri = f"http://127.0.0.1:{server['port']}"
        args = ["-m", "model.skip=true,false", "model.bottleneck=true,false", *TINY, "data.limit=200",
                f"tracking.uri={uri}", "tracking.experiment=ui"]  # fmt: skip
        code, out, err = ablate_cli(*args)
        assert code == 0, err
        url = printed(out, "the arms side by side")
        assert url.startswith(uri + "/#/compare-runs?runs=")
        text = render(url, launch_dir / "compare.png")
        client = MlflowClient(uri)
        runs = [client.get_run(r) for r in json.loads(unquote(url.split("runs=")[1].split("&")[0]))]
        table = render(printed(out, "this sweep's runs, key columns first"), launch_dir / "table.png")
        charts_dom = dom(printed(out, "this sweep's charts"), launch_dir / "charts.png")
        charts = text_of(charts_dom)
        best = max(runs, key=lambda r: r.data.metrics["purity_mean"])
        page = render(f"{uri}/#/experiments/{best.info.experiment_id}/runs/{best.info.run_id}")
        parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
        arms_page = render(
            f"{uri}/#/experiments/{parent.info.experiment_id}/runs/{parent.info.run_id}/artifacts/arms.json"
        )
    assert "Comparing 4 Runs" in text, text[:500]
    for arm in ARMS:
        assert arm in text, arm
    assert sorted(r.info.run_name for r in runs) == sorted(ARMS)
    metrics = text[text.index("Metrics Show diff only") : text.index("Artifacts")]  # names, then values by run
    assert "purity_mean" in metrics.split()
    shown = [float(w) for w in metrics.split() if re.fullmatch(r"-?\d+(\.\d+)?", w)]
    for run in runs:  # the UI rounds to 3 decimals
        purity = run.data.metrics["purity_mean"]
        assert any(abs(v - purity) <= 0.0006 for v in shown), (run.info.run_name, purity, metrics)
    assert (launch_dir / "compare.png").stat().st_size > 10_000

    # the shared view: the sweep's four runs (no parent), grouped by arm (its factors' params, a row
    # each with the arm's average), factors and key metrics as columns, best first
    assert "4 matching runs" in table, table[:2000]
    # opened as model training, not in the UI's GenAI mode (whose side bar lists judges and prompts)
    for genai in ("Judges", "Prompts", "Agent versions"):
        assert genai not in table and genai not in text, (genai, table[:1500])
    assert "Model registry" in table, table[:1500]
    assert "Group by: model.skip +1" in table and "(average)" in table, table[:2000]
    for arm in ARMS:
        skip, bottleneck = (part.split("=")[1] for part in arm.split())
        assert f"Group: model.skip: {skip}, model.bottleneck: {bottleneck}" in table, arm
    header = table[table.index("Run Name") :]
    for column in ("model.skip", "model.bottleneck", "purity_mean", "final_eval_loss", "psnr"):
        assert column in header.split(), column
    in_order = [r.data.metrics["purity_mean"] for r in sorted(runs, key=lambda r: header.index(r.info.run_name))]
    assert in_order == sorted(in_order, reverse=True), in_order
    # its charts: the key-metrics section first, each arm's average (grouped: the UI then draws no
    # parallel coordinates), and the eval-loss curves with each arm's min-max band
    assert charts.index("ablate: key metrics") < charts.index("Model metrics"), charts[:2000]
    assert "model.skip: True, model.bottleneck: True (eval_loss)" in charts, charts[:3000]
    bands = re.findall(r'class="js-fill"[^>]*fill-opacity: 0\.2', charts_dom)
    assert len(bands) >= len(ARMS), len(bands)
    # the parent's per-arm table, shown by the UI as a table
    assert "View as table" in arms_page and "purity_mean mean" in arms_page, arms_page[:3000]
    for arm in ARMS:
        assert arm in arms_page[arms_page.index("View as table") :], arm
    # a run's page: its description says the arm and its purity; the tags a user reads come first
    assert f"{best.info.run_name} : purity {best.data.metrics['purity_mean']:.4g}" in page, page[:3000]
    tags = page[page.index(" Tags ") :]
    assert tags.index("ablate.seed") < tags.index("ablate.code") < tags.index("ablate/"), tags[:1000]
