"""``jointsr-report DIR... --out OUT``: collect the runs, write the tables and the plots."""

from __future__ import annotations

import argparse
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from jointsr.cli.command import USER_ERROR_STATUS, report
from jointsr.report.aggregation import (
    Comparison,
    Configuration,
    choose_reference,
    compare,
    configurations,
)
from jointsr.report.plots import (
    DEFAULT_DPI,
    plot_ablation,
    plot_curves,
    plot_grids,
    plot_params,
)
from jointsr.report.references import bicubic_reference
from jointsr.report.runs import Run, count_parameters, find_runs, not_started
from jointsr.report.tables import (
    fmt_budget,
    fmt_range,
    fmt_spread,
    md_table,
    relative,
    task_markdown,
    write_comparisons_csv,
    write_configurations_csv,
    write_report_csv,
    write_runs_csv,
)
from jointsr.runs.folder import RunDir

log = logging.getLogger("jointsr")


def input_base(roots: Sequence[str | Path]) -> Path:
    """The folder run paths are shown relative to: the common folder of the inputs (the parent
    of a single input that is itself a run, so its name shows)."""
    resolved = [Path(root).expanduser().resolve() for root in roots]
    base = Path(os.path.commonpath([str(path) for path in resolved]))
    if len(resolved) == 1 and RunDir(base).is_run():
        return base.parent
    return base


def make_report(roots: Sequence[str | Path], out: str | Path, params: bool = True, dpi: int = DEFAULT_DPI,
                max_grids: int = 8, reference: str | None = None) -> dict:
    """Collect the runs under ``roots`` and write the report into ``out``; returns a summary
    (counts, the files written, and per task the configurations' PSNR lines printed by the CLI)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = input_base(roots)
    runs = find_runs(roots)
    finished = [run for run in runs if run.finished]
    unfinished = [run for run in runs if not run.finished]
    by_task: dict[tuple[str, int], list[Run]] = defaultdict(list)
    for run in finished:
        if params and run.params is None:  # a test document without its parameter count
            run.params = count_parameters(run)
        by_task[(run.data, run.scale)].append(run)
    tasks: dict[tuple[str, int], list[Configuration]] = {
        key: configurations(group) for key, group in sorted(by_task.items())}
    references = {key: choose_reference(configs, reference) for key, configs in tasks.items()}
    if reference is not None and len(tasks) and not any(references.values()):
        raise ValueError(f"--reference {reference!r} matches no configuration; configurations: "
                         + "; ".join(c.label for configs in tasks.values() for c in configs))
    comparisons: dict[tuple[str, int], list[Comparison]] = {
        key: [compare(config, references[key]) for config in configs if config is not references[key]]
        if references[key] is not None else [] for key, configs in tasks.items()}
    sweeps = sorted({path.parent for root in roots for path in Path(root).expanduser().rglob("multirun.yaml")})
    pending = [(sweep, job) for sweep in sweeps for job in not_started(sweep, runs)]

    lines = ["# jointsr report", "",
             f"{len(finished)} finished run(s), {len(unfinished)} unfinished"
             + (f", {len(pending)} not started" if pending else "") + ", under: "
             + ", ".join(f"`{root}`" for root in roots) + f". Run directories are relative to `{base}`.", ""]
    written: list[Path] = []
    printed: list[str] = []
    for (data, scale), configs in tasks.items():
        stem, title = f"{data}_x{scale}", f"{data} x{scale}"
        bicubic = bicubic_reference(data, scale, configs)
        task_unfinished = [run for run in unfinished if run.error is None and (run.data, run.scale) == (data, scale)]
        plots = {
            "ablation: PSNR vs the numeric keys that differ": plot_ablation(
                configs, out / f"ablation_{stem}.png", title, dpi, bicubic),
            "PSNR vs parameters": plot_params(configs, out / f"params_{stem}.png", title, dpi, bicubic),
            "learning curves": plot_curves(configs, out / f"curves_{stem}.png", title, dpi, bicubic,
                                           task_unfinished),
            "validation grids": plot_grids(configs, out / f"grids_{stem}.png", title, dpi, max_grids),
        }
        plots = {name: path for name, path in plots.items() if path is not None}
        written += plots.values()
        lines += task_markdown(data, scale, configs, comparisons[(data, scale)], references[(data, scale)],
                               reference, plots, out, base)
        printed += [f"{title}:"] + _console_table(configs, comparisons[(data, scale)])
    lines += ["## Unfinished, failed or unreadable runs", ""]
    if unfinished:
        lines += md_table(["directory", "model", "data", "scale", "overrides", "status"],
                          [_unfinished_row(run, base) for run in unfinished])
    else:
        lines.append("None.")
    if pending:
        lines += ["", "Jobs of a sweep that never started (in its `multirun.yaml`, no job folder: the sweep "
                  "stopped before them; re-running the sweep's command runs them):", ""]
        lines += md_table(["sweep", "job overrides"], [[f"`{relative(sweep, base)}`", f"`{job}`"]
                                                        for sweep, job in pending])
    lines += ["", "Parameters: counted by building each run's `model.net` from its config "
              "(`csv/hparams.yaml`, else `.hydra/config.yaml`).", ""]
    (out / "report.md").write_text("\n".join(lines))
    labels = {run.path: config.label for configs in tasks.values() for config in configs for run in config.runs}
    write_report_csv(out / "report.csv", tasks, base)
    write_configurations_csv(out / "configurations.csv", tasks)
    write_comparisons_csv(out / "comparisons.csv", comparisons)
    write_runs_csv(out / "runs.csv", runs, labels, base)
    written += [out / name for name in ("report.md", "report.csv", "configurations.csv", "comparisons.csv",
                                        "runs.csv")]
    return {"finished": len(finished), "unfinished": len(unfinished), "not_started": len(pending),
            "groups": [f"{d} x{s}" for d, s in tasks], "files": [str(p) for p in written], "table": printed}


def _unfinished_row(run: Run, base: Path) -> list[str]:
    directory = f"`{relative(run.path, base)}`"
    if run.error is not None:
        return [directory, "?", "?", "?", "", run.status()]
    overrides = ",".join(f"{key}={value}" for key, value in run.overridden.items()
                         if not key.startswith(("hydra.", "paths.")))
    return [directory, run.model, run.data, "–" if run.scale is None else str(run.scale),
            f"`{overrides}`" if overrides else "", run.status()]


def _console_table(configs: list[Configuration], comparisons: list[Comparison]) -> list[str]:
    """Plain-text lines: each configuration's PSNR over seeds, then each comparison's verdict."""
    width = max(len(config.label) for config in configs)
    lines = []
    for config in configs:
        summary = config.summary()
        steps, minutes = fmt_budget(config)
        budget = "" if config.budget() is None else f"  ({steps} steps, {minutes} min)"
        lines.append(f"  {config.label:<{width}}  n={len(config.seeds)}  PSNR {fmt_spread('psnr', summary['psnr'])}"
                     f"  (min–max {fmt_range('psnr', summary['psnr'])})  SSIM {fmt_spread('ssim', summary['ssim'])}"
                     + budget)
    for c in comparisons:
        delta = "–" if c.mean is None else f"{c.mean:+.3f} dB"
        interval = "" if c.t_interval is None else f", 95 % CI [{c.t_interval.low:+.3f}, {c.t_interval.high:+.3f}]"
        lines.append(f"  {c.candidate.label} vs {c.reference.label}: {delta}{interval}: {c.verdict}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jointsr-report",
        description="Collect every test_metrics.json under run or sweep directories (recursively); runs "
                    "that differ only in seed are one configuration (mean ± std over seeds). Writes "
                    "OUT/report.md, report.csv, configurations.csv, comparisons.csv, runs.csv and PNG plots.")
    parser.add_argument("dirs", nargs="+", help="run or sweep directories (searched recursively)")
    parser.add_argument("--out", default=None,
                        help="folder for the report (created; default: DIR/report when one directory is given)")
    parser.add_argument("--reference", default=None,
                        help="the configuration the others are compared with, as its label or overrides "
                             "'model.net.T=2,model.net.R=3' (default: the first configuration with parameters)")
    parser.add_argument("--no-params", action="store_true", help="do not build networks to count the parameters of runs that do not record them")
    parser.add_argument("--dpi", type=int, default=DEFAULT_DPI,
                        help=f"resolution of the PNG plots (default {DEFAULT_DPI})")
    parser.add_argument("--max-grids", type=int, default=8, help="validation grids shown per task (default 8)")
    args = parser.parse_args(argv)
    if args.out is None:
        if len(args.dirs) > 1:
            parser.error(f"{len(args.dirs)} directories: name the report's folder with --out")
        args.out = str(Path(args.dirs[0]) / "report")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        summary = make_report(args.dirs, args.out, params=not args.no_params, dpi=args.dpi,
                              max_grids=args.max_grids, reference=args.reference)
    except (FileNotFoundError, ValueError) as error:
        report("report", str(error))
        return USER_ERROR_STATUS
    print(f"{summary['finished']} finished, {summary['unfinished']} unfinished run(s); "
          f"tasks: {', '.join(summary['groups']) or 'none'}")
    for line in summary["table"]:
        print(line)
    for path in summary["files"]:
        print(f"wrote {path}")
    return 0
