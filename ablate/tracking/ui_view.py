"""What the MLflow UI shows first for a sweep.

Which columns the runs table shows, which parents it expands and which charts it draws are the
browser's state, but the UI also opens a *shared view*: that same state kept as an experiment
tag, `mlflow.sharedViewState.<key>`, and opened by `?viewStateShareKey=<key>` (the UI's own
"share view" writes these). A sweep writes one, keyed by its parent run, so its links open on its
runs alone, with its factors and key metrics as columns, best first, and charts that compare the
arms: parallel coordinates from the factors to the headline metric, a bar per key metric and the
eval-loss curves, grouped by arm (the factors' params): a row per arm, its average (a line chart
adds the arm's min-max band). Plain data here; the tracker stores it.
"""

from __future__ import annotations

from typing import Any

from ablate.config.metrics import Metric

TAG_PREFIX = "mlflow.sharedViewState."
LIMIT = 20_000  # MLflow's cap on an experiment tag's value
SECTION = "ablate-key-metrics"


def view_state(run_ids: list[str], parent_id: str, factors: list[str], metrics: list[Metric]) -> dict[str, Any]:
    """The shared view of a sweep's runs: `factors` are param names, `metrics` the key metrics
    (from the registry), headline first."""
    where = f"attributes.run_id IN ({', '.join(repr(r) for r in run_ids)})"
    if len(where) > LIMIT // 2:  # too many to list: the parent's own children (referenced runs drop out)
        where = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    names = [m.name for m in metrics]
    card = {"deleted": False, "isGenerated": False, "metricSectionId": SECTION, "runsCountToCompare": len(run_ids)}
    parallel = {"uuid": "ablate-parallel", "type": "PARALLEL", "selectedParams": factors, "showAllRuns": True}
    charts = [{**card, **parallel, "selectedMetrics": names[:1]}]
    charts += [{**card, "uuid": f"ablate-bar-{m}", "type": "BAR", "metricKey": m} for m in names]
    line = {"uuid": "ablate-line-eval_loss", "type": "LINE", "metricKey": "eval_loss", "xAxisKey": "step"}
    charts.append({**card, **line, "selectedMetricKeys": ["eval_loss"], "scaleType": "log"})
    return {
        "searchFilter": where,
        "orderByKey": f"metrics.`{names[0]}`" if names else "attributes.start_time",
        "orderByAsc": bool(metrics) and metrics[0].better == "lower",  # the best arm first
        "selectedColumns": [f"params.`{f}`" for f in factors] + [f"metrics.`{m}`" for m in names],
        "runsHiddenMode": "SHOW_ALL",  # every run in the charts, not the UI's first ten
        "compareRunSections": [
            {
                "uuid": SECTION,
                "name": "ablate: key metrics",
                "display": True,
                "isReordered": False,
                "deleted": False,
                "isGenerated": False,
            }
        ],
        "compareRunCharts": charts,
        "isAccordionReordered": True,  # keep this section first
        # one row per arm (its factors' values), its runs folded in; the charts draw each arm's
        # average, a line chart with the arm's min-max band
        "groupBy": {
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": "param", "groupByData": f} for f in factors],
        }
        if factors
        else None,
        "useGroupedValuesInCharts": True,
    }
