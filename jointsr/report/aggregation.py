"""From runs to configurations: runs that differ only in ``seed`` are one configuration,
summarised over its seeds; two configurations are compared on the images and seeds they share.

A configuration, within one task (data, scale), is its model and the values of every key any
run of the task overrode, except those in ``NOT_A_CONFIGURATION`` (the seed, the task itself,
where and how a run writes). A key a run did not override takes its value from the run's
config (``model.net.T``) or Hydra's group choices (``model``), so ``model.net.T=3`` given
explicitly and the default T=3 are one configuration.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from hydra.errors import OverrideParseException
from omegaconf import OmegaConf

from jointsr.evaluation.results import DEPTH_METRICS, METRICS
from jointsr.evaluation.stats import (
    Interval,
    Spread,
    bootstrap_interval,
    paired_t_interval,
    spread,
)
from jointsr.models.catalog import model_title
from jointsr.report.runs import Run, format_value, parse_overrides

#: override keys that never make a configuration (exact keys, and prefixes ending in ".")
NOT_A_CONFIGURATION = ("seed", "data", "scale", "logger", "skip_done", "launcher", "experiment_name", "tags",
                       "hydra.", "paths.", "verbose", "data.progress", "callbacks.rich_progress_bar", "model.title")
#: the confidence level of every interval in the report
LEVEL = 0.95
#: bootstrap replicates and the RNG seed that makes the report reproducible
BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED = 10_000, 0


def _is_configuration_key(key: str) -> bool:
    return not any(key.startswith(k) if k.endswith(".") else key == k for k in NOT_A_CONFIGURATION)


@dataclass
class Configuration:
    """The finished runs of one task that differ only in ``seed``."""

    data: str
    scale: int
    model: str
    values: dict[str, str]                 # key -> value (absent keys left out)
    runs: list[Run] = field(default_factory=list)
    label: str = ""
    params: int | None = None

    @property
    def title(self) -> str:
        """The model's row title: the ``model.title`` its runs ran with (the model config's
        ``title:``), else :func:`~jointsr.models.catalog.model_title` of the model's name."""
        titles = {run.select("model.title") for run in self.runs} - {None, ""}
        return titles.pop() if len(titles) == 1 else model_title(self.model)

    @property
    def seeds(self) -> list[str]:
        """Distinct seeds in the order of the runs (a run without a known seed: its folder)."""
        return list(dict.fromkeys(_seed_of(run) for run in self.runs))

    @property
    def duplicated_seeds(self) -> list[str]:
        counts: dict[str, int] = defaultdict(int)
        for run in self.runs:
            counts[_seed_of(run)] += 1
        return [seed for seed, count in counts.items() if count > 1]

    @property
    def seed_independent(self) -> bool:
        """A model without parameters computes the same for every seed: one run stands for all."""
        return self.params == 0

    @property
    def full_protocol(self) -> bool:
        return all(run.full_protocol for run in self.runs)

    @property
    def test_crops(self) -> set:
        """``data.test_crop`` of its runs (None: whole images); pairs need the same pixels."""
        return {run.select("data.test_crop") for run in self.runs}

    def per_seed(self) -> dict[str, dict[str, dict[str, float]]]:
        """``seed -> image -> metric -> value``, with the image ``mean`` (each run's own mean);
        runs repeating a seed are averaged."""
        by_seed: dict[str, list[Run]] = defaultdict(list)
        for run in self.runs:
            by_seed[_seed_of(run)].append(run)
        table = {}
        for seed, runs in by_seed.items():
            rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
            for run in runs:
                for row in run.document["per_image"] + [{"name": "mean", **run.document["mean"]}]:
                    for metric in (*METRICS, *DEPTH_METRICS):  # the depth RMSE where the run has it
                        if row.get(metric) is not None:
                            rows[row["name"]][metric].append(float(row[metric]))
            table[seed] = {image: {metric: sum(v) / len(v) for metric, v in metrics.items()}
                           for image, metrics in rows.items()}
        return table

    def rmse_unit(self) -> dict | None:
        """``{"unit", "border_crop"}`` of the depth RMSE its runs report (None: no RMSE)."""
        return next((run.document["rmse"] for run in self.runs if run.document.get("rmse")), None)

    def budget(self) -> dict[str, Spread] | None:
        """``steps`` and ``minutes`` of training behind the tested weights, over its runs (None
        when no run trained: a parameter-free model)."""
        budgets = [run.budget for run in self.runs if run.budget]
        if not budgets:
            return None
        result = {"steps": spread([float(b["steps"]) for b in budgets])}
        minutes = [b["minutes"] for b in budgets if b.get("minutes") is not None]
        if minutes:
            result["minutes"] = spread(minutes)
        return result

    def tested_steps(self) -> list[int]:
        """The distinct steps of the weights its runs tested (several: a mix to flag)."""
        return sorted({run.budget["tested_step"] for run in self.runs
                       if run.budget and run.budget.get("tested_step") is not None})

    def images(self) -> list[str]:
        """Test images of its runs, in the order of the first run that has them."""
        return list(dict.fromkeys(row["name"] for run in self.runs for row in run.document["per_image"]))

    def summary(self, image: str = "mean") -> dict[str, Spread]:
        """``metric -> spread over seeds`` of one image, or of the mean over the images."""
        values: dict[str, list[float]] = defaultdict(list)
        for rows in self.per_seed().values():
            for metric, value in rows.get(image, {}).items():
                values[metric].append(value)
        return {metric: spread(v) for metric, v in values.items()}


def _seed_of(run: Run) -> str:
    seed = run.seed
    return seed if seed is not None else f"? ({run.path.name})"


def configurations(runs: list[Run]) -> list[Configuration]:
    """The finished ``runs`` of one task grouped into configurations, labelled, in report order."""
    finished = [run for run in runs if run.finished]
    overridden = [{key: value for key, value in run.overridden.items() if _is_configuration_key(key)}
                  for run in finished]
    keys = list(dict.fromkeys(key for values in overridden for key in values))
    groups: dict[tuple, Configuration] = {}
    for run, values in zip(finished, overridden):
        complete = {}
        for key in keys:
            value = values.get(key)
            if key == "model" and run.model:  # what was tested (jointsr-eval's model= gives way to the checkpoint's)
                value = run.model
            if value is None:
                value = _configured_value(run, key)
            if value is not None:
                complete[key] = value
        identity = (run.data, run.scale, run.model, tuple(sorted(complete.items())))
        if identity not in groups:
            groups[identity] = Configuration(run.data, run.scale, run.model, complete, params=run.params)
        groups[identity].runs.append(run)
    result = list(groups.values())
    label_configurations(result)
    ranks = launch_order(finished)
    return sorted(result, key=lambda config: _order(config, ranks))


def launch_order(runs: list[Run]) -> dict[str, int]:
    """Each model's rank in the order its runs were launched: within a sweep its job numbers
    (``hydra.job.num``: ``-m model=a,b,c`` keeps that order), across sweeps and single runs
    the folders' names (Hydra's are dated)."""
    launched = sorted(runs, key=lambda run: (str(run.path.parent), run.job is None, run.job or 0, str(run.path)))
    return {model: rank for rank, model in enumerate(dict.fromkeys(run.model for run in launched))}


def _configured_value(run: Run, key: str) -> str | None:
    """What a run that did not override ``key`` ran with: a group's choice, else a config value."""
    if key in run.choices:
        choice = run.choices[key]
        return None if choice is None else str(choice)
    value = run.select(key)
    if value is None or OmegaConf.is_dict(value):  # absent, or a whole group (not one value)
        return None
    return format_value(value)


def label_configurations(configs: list[Configuration]) -> None:
    """Each configuration's label: its model's title (:attr:`Configuration.title`, the model
    config's ``title:`` or its network class's: "Proposed (jointsr_paper)", "JointSR-fast
    (ours, CPU recipe)", the paper's names of the baselines) when the task holds several
    models, then the ``key=value`` overrides that differ between the configurations of that
    model (keys in the order the runs gave them); a model's only configuration is its title."""
    models_differ = len({config.model for config in configs}) > 1
    for config in configs:
        siblings = [other for other in configs if other.model == config.model]
        parts = [f"{key}={config.values[key]}" for key in varying_keys(siblings)
                 if key in config.values and not (models_differ and key == "model")]
        title = [config.title] if models_differ or not parts else []
        config.label = " ".join(title + [",".join(parts)]).strip()


def varying_keys(configs: list[Configuration]) -> list[str]:
    """The keys whose values (or presence) differ between ``configs``, in the runs' order."""
    keys = list(dict.fromkeys(key for config in configs for key in config.values))
    return [key for key in keys if len({config.values.get(key) for config in configs}) > 1]


def _order(config: Configuration, ranks: dict[str, int]) -> tuple:
    """The reference (a model without parameters) first, then the models as launched, each
    model's configurations by their values (numbers numerically)."""
    numeric = tuple((0, float(v), "") if _is_number(v) else (1, 0.0, v) for v in config.values.values())
    return not config.seed_independent, ranks.get(config.model, len(ranks)), config.model, numeric, config.label


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text not in ("nan", "inf", "-inf")


def numeric_keys(configs: list[Configuration]) -> list[str]:
    """Keys whose values differ between configurations and are all numbers (the axes of an
    ablation plot: ``model.net.T``, ``model.optimizer.lr``, ...)."""
    result = []
    for key in varying_keys(configs):
        present = [config.values[key] for config in configs if key in config.values]
        if len(set(present)) > 1 and all(_is_number(v) for v in present):
            result.append(key)
    return result


# ---------------------------------------------------------------------------- comparisons
@dataclass
class Comparison:
    """``candidate - reference`` in PSNR on the test images and seeds both have."""

    candidate: Configuration
    reference: Configuration
    seeds: list[str]
    images: list[str]
    differences: list[list[float]]         # (images, seeds) in dB
    t_interval: Interval | None
    bootstrap: Interval | None
    not_comparable: str | None = None      # why no pair was made

    @property
    def mean(self) -> float | None:
        if not self.seeds or not self.images:
            return None
        return sum(sum(row) for row in self.differences) / (len(self.seeds) * len(self.images))

    @property
    def verdict(self) -> str:
        if self.not_comparable:
            return f"{self.not_comparable}: not compared"
        if not self.seeds:
            return (f"no shared seeds (these: {', '.join(self.candidate.seeds)}; reference: "
                    f"{', '.join(self.reference.seeds)}): not compared")
        if not self.images:
            return "no shared test images: not compared"
        if self.t_interval is None:
            return "one seed: no uncertainty estimate"
        if self.t_interval.contains_zero:
            return "not significant (the 95 % CI over seeds contains 0)"
        direction = "higher" if self.t_interval.mean > 0 else "lower"
        if self.bootstrap is not None and self.bootstrap.contains_zero:
            return (f"{direction} over seeds, but not significant over images × seeds "
                    "(the bootstrap CI contains 0)")
        return f"significantly {direction}"


def compare(candidate: Configuration, reference: Configuration, metric: str = "psnr") -> Comparison:
    """Pair the two configurations by (image, seed). A seed-independent configuration (no
    parameters) pairs its one result with every seed of the other."""
    if candidate.test_crops != reference.test_crops:  # same image names, other pixels
        return Comparison(candidate, reference, [], [], [], None, None,
                          not_comparable=f"tested on other crops (data.test_crop {_crops(candidate)} vs "
                                         f"{_crops(reference)})")
    candidate_rows, reference_rows = candidate.per_seed(), reference.per_seed()
    if reference.seed_independent and not candidate.seed_independent:
        only = next(iter(reference_rows.values()))
        reference_rows = {seed: only for seed in candidate_rows}
    elif candidate.seed_independent and not reference.seed_independent:
        only = next(iter(candidate_rows.values()))
        candidate_rows = {seed: only for seed in reference_rows}
    seeds = [seed for seed in reference_rows if seed in candidate_rows]
    shared_images = [image for image in reference.images()
                     if all(image in candidate_rows[s] and image in reference_rows[s] for s in seeds)]
    images = shared_images if seeds else []
    differences = [[candidate_rows[s][image][metric] - reference_rows[s][image][metric] for s in seeds]
                   for image in images]
    t_interval = bootstrap = None
    if len(seeds) >= 2 and images:
        per_seed = [sum(row[j] for row in differences) / len(images) for j in range(len(seeds))]
        t_interval = paired_t_interval(per_seed, LEVEL)
        bootstrap = bootstrap_interval(differences, LEVEL, BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED)
    return Comparison(candidate, reference, seeds, images, differences, t_interval, bootstrap)


def _crops(config: Configuration) -> str:
    return ", ".join(sorted(format_value(crop) for crop in config.test_crops))


def choose_reference(configs: list[Configuration], wanted: str | None) -> Configuration | None:
    """The configuration every other one is compared with.

    ``wanted``: a label, or overrides ``key=value,...`` that must all hold (``model.net.T=2``;
    a bare word is the model's name); ``None``: the first configuration with parameters (the
    first of all when none has). ``None`` is returned for a single configuration, or when
    ``wanted`` matches nothing here; several matches are an error naming them."""
    if len(configs) < 2:
        return None
    if wanted is None:
        trained = [config for config in configs if not config.seed_independent]
        return (trained or configs)[0]
    matches = [config for config in configs if config.label == wanted] \
        or [config for config in configs if _matches(config, wanted)]
    if len(matches) > 1:
        raise ValueError(f"--reference {wanted!r} matches {len(matches)} configurations "
                         f"({'; '.join(c.label for c in matches)}): add overrides to pick one")
    return matches[0] if matches else None


def _matches(config: Configuration, wanted: str) -> bool:
    items = [part.strip() for part in wanted.split(",") if part.strip()]
    overrides = [item for item in items if "=" in item]
    models = [item for item in items if "=" not in item]
    try:
        parsed = parse_overrides(overrides)
    except OverrideParseException:  # not override syntax: only an exact label could match
        return False
    return all(model == config.model for model in models) and all(
        config.values.get(key) == value or (key == "model" and config.model == value)
        for key, value in parsed.items())
