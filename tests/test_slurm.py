"""jointsr-train on a real SLURM cluster (``launcher=slurm_cpu``, hydra-submitit-launcher): each job
of a seed sweep is one SLURM job of two tasks, which Lightning's SLURM environment makes the two
ranks of one DDP job (gloo); rank 0 writes the run, ``jointsr-report`` reads the sweep; and a job
stopped by ``scontrol requeue`` mid-training starts again, resumes from its ``last.ckpt`` and ends
as the uninterrupted job of the same seed did.

The tests marked ``slurm`` need a cluster that answers ``sinfo``: ``.ci/slurm.sh`` starts a
single-node one (root, Debian). Without one they are skipped, saying so; with
JOINTSR_REQUIRE_SLURM=1 (CI) they start it with that script and fail where it cannot.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import DATA_DIR, require_data
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from slurm_helpers import HOLDING

from jointsr import CONFIG_DIR
from jointsr.runs.folder import RunDir
from jointsr.training.ranks import processes_to_start

TESTS = Path(__file__).resolve().parent
START_CLUSTER = TESTS.parent / ".ci" / "slurm.sh"
REQUIRED = os.environ.get("JOINTSR_REQUIRE_SLURM") == "1"

RANKS, PATCHES, BATCH = 2, 64, 4
BATCHES_PER_EPOCH = PATCHES // (BATCH * RANKS)  # each rank trains on its half of the patches
STEPS, VALIDATE_EVERY, HOLD_AT = 12, 3, 6  # the requeue lands after step 6's checkpoint, mid-epoch
TINY = ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast", "callbacks.rich_progress_bar=null",
        "data.progress=false", "data.test_crop=64", "data.max_test_images=2", f"data.max_train_patches={PATCHES}",
        f"data.batch_size={BATCH}", f"trainer.max_steps={STEPS}", "trainer.max_epochs=100",
        f"trainer.val_check_interval={VALIDATE_EVERY}"]
# job folders named by seed: the override list of a run this small is longer than a file name may be
SLURM = ["launcher=slurm_cpu", f"hydra.launcher.tasks_per_node={RANKS}", "hydra.sweep.subdir=seed_${seed}"]
# what submitit logs as each task starts: its job and its rank among the job's tasks
TASK_START = re.compile(r"Starting with JobEnvironment\(job_id=(?P<job>[\w-]+), hostname=\S+, "
                        r"local_rank=\d+\(\d+\), node=\d+\(\d+\), global_rank=(?P<rank>\d+)\((?P<world>\d+)\)\)")
DEADLINE_S = 1800  # a guard against a hung cluster, far above the minutes a job takes


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=60)
    return states.returncode == 0 and bool({"idle", "mixed", "allocated"} & set(states.stdout.split()))


@pytest.fixture(scope="module")
def cluster() -> None:
    """A SLURM cluster that takes jobs: the one running, or (JOINTSR_REQUIRE_SLURM=1) the
    single-node one ``.ci/slurm.sh`` starts."""
    require_data("rgbnir")
    if not _cluster_answers() and REQUIRED:
        started = subprocess.run([str(START_CLUSTER)], capture_output=True, text=True, timeout=DEADLINE_S)
        if started.returncode != 0:
            pytest.fail(f"JOINTSR_REQUIRE_SLURM=1 but {START_CLUSTER} failed: {started.stderr.strip()[-2000:]}")
    if not _cluster_answers():
        (pytest.fail if REQUIRED else pytest.skip)(
            "no SLURM cluster answers sinfo: start a single-node one with .ci/slurm.sh (root, Debian), or set "
            "JOINTSR_REQUIRE_SLURM=1 to have these tests start it")


def _sweep_command(sweep: Path, *overrides: str) -> list[str]:
    return [sys.executable, "-m", "jointsr.cli.train", "-m", *SLURM, *TINY, f"hydra.sweep.dir={sweep}", *overrides]


def _environment(cache: Path) -> dict[str, str]:
    """The submitting process's environment, which sbatch hands on to the jobs."""
    return {**os.environ, "JOINTSR_DATA_DIR": str(DATA_DIR), "JOINTSR_CACHE_DIR": str(cache),
            "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled",
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}


def _jobs(sweep: Path) -> dict[str, Path]:
    """Each SLURM job of the sweep: its id and its submitit folder (``<sweep>/.submitit/<id>``)."""
    return {folder.name: folder for folder in sorted((sweep / ".submitit").iterdir())
            if (folder / f"{folder.name}_submitted.pkl").is_file()}


def _task_log(job: str, folder: Path, task: int) -> str:
    path = folder / f"{job}_{task}_log.out"
    return path.read_text() if path.is_file() else ""


def _task_starts(job: str, folder: Path) -> list[tuple[int, int]]:
    """``(rank, world size)`` of every start of every task of ``job``, in log order."""
    return [(int(m["rank"]), int(m["world"])) for task in range(RANKS)
            for m in TASK_START.finditer(_task_log(job, folder, task)) if m["job"] == job]


def _logged(run_dir: Path, key: str) -> list[tuple[int, int, str]]:
    """``(step, epoch, value)`` of every row of the run's metrics.csv that logged ``key``."""
    with open(RunDir(run_dir).metrics_csv, newline="") as stream:
        return [(int(row["step"]), int(row["epoch"] or -1), row[key]) for row in csv.DictReader(stream)
                if row.get(key)]


def _without_clock(document: dict) -> dict:
    document.get("training", {}).pop("minutes", None)  # the wall-clock minutes of training differ
    return document


@pytest.fixture(scope="module")
def seed_sweep(cluster, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """``jointsr-train -m launcher=slurm_cpu seed=1,2 ...``: two SLURM jobs; the launcher waits for both."""
    root = tmp_path_factory.mktemp("slurm")
    sweep = root / "sweep"
    done = subprocess.run(_sweep_command(sweep, "seed=1,2"), capture_output=True, text=True,
                          env=_environment(root / "cache"), timeout=DEADLINE_S)
    return sweep, done


@pytest.mark.slurm
@pytest.mark.slow
def test_each_job_of_a_seed_sweep_runs_as_one_two_rank_ddp_job(seed_sweep):
    sweep, done = seed_sweep
    assert done.returncode == 0, done.stderr[-4000:]
    (script,) = (sweep / ".submitit").glob("*/*_submission.sh")  # one array of two jobs
    asked = script.read_text()
    assert "#SBATCH --array=0-1" in asked and f"#SBATCH --ntasks-per-node={RANKS}" in asked
    assert "#SBATCH --cpus-per-task=1" in asked and "export OMP_NUM_THREADS=1" in asked
    assert "--gpus" not in asked and "--gres" not in asked
    jobs = _jobs(sweep)
    assert len(jobs) == 2, sorted(jobs)
    for job, folder in jobs.items():
        # SLURM started two tasks, ranks 0 and 1 of a world of two, once each; both ended well
        assert sorted(_task_starts(job, folder)) == [(0, RANKS), (1, RANKS)], job
        for task in range(RANKS):
            assert "Job completed successfully" in _task_log(job, folder, task), (job, task)
    for seed in (1, 2):
        run = sweep / f"seed_{seed}"
        document = json.loads((run / "test_metrics.json").read_text())
        names = [row["name"] for row in document["per_image"]]
        assert len(names) == 2 and names == sorted(set(names)), names  # every test image once, over two ranks
        assert document["training"]["steps"] == STEPS
        # the two ranks shared each epoch's patches: an epoch is PATCHES / (BATCH * 2) steps, not PATCHES / BATCH
        trained = _logged(run, "train/loss")
        assert [step for step, _, _ in trained] == list(range(STEPS))
        assert all(epoch == step // BATCHES_PER_EPOCH for step, epoch, _ in trained), trained
        log = (run / "train.log").read_text()
        assert log.count(f"training: {STEPS} steps") == 1, log[-2000:]  # rank 0 speaks for the job
        print(f"\nseed {seed}: test PSNR {document['mean']['psnr']:.6f} dB over {names}, tested "
              f"{document['training']['tested']}")
    print("jobs (rank, world) per task start:", {job: _task_starts(job, folder) for job, folder in jobs.items()})


@pytest.mark.slurm
@pytest.mark.slow
def test_jointsr_report_reads_the_slurm_sweep(seed_sweep, tmp_path):
    from jointsr.cli.report import main

    sweep, done = seed_sweep
    assert done.returncode == 0, done.stderr[-4000:]
    assert main([str(sweep), "--out", str(tmp_path / "report")]) == 0
    with open(tmp_path / "report" / "runs.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted((row["directory"], row["status"], row["seed"]) for row in rows) == [
        ("seed_1", "finished", "1"), ("seed_2", "finished", "2")]
    for row in rows:
        tested = json.loads((sweep / row["directory"] / "test_metrics.json").read_text())
        assert float(row["psnr"]) == pytest.approx(tested["mean"]["psnr"], rel=1e-12)


def _wait_for_hold(sweep: Path, submitted: subprocess.Popen) -> tuple[str, Path]:
    """The job of a one-job sweep once both its ranks hold at step HOLD_AT: its id and folder."""
    stop = threading.Event()
    for _ in range(DEADLINE_S):
        if submitted.poll() is not None:
            pytest.fail(f"the sweep ended before its job held: {submitted.communicate()[1][-4000:]}")
        jobs = _jobs(sweep) if (sweep / ".submitit").is_dir() else {}
        for job, folder in jobs.items():
            if all(f"{HOLDING} {HOLD_AT} (rank {task})" in _task_log(job, folder, task) for task in range(RANKS)):
                return job, folder
        stop.wait(1.0)
    pytest.fail(f"no job of {sweep} held at step {HOLD_AT} in {DEADLINE_S} s")


def _release_requeued(job: str) -> None:
    """Make the requeued ``job`` eligible now: SLURM holds a requeued job back for about two
    minutes before it may start again (its BeginTime)."""
    stop = threading.Event()
    for _ in range(120):
        state = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.strip()
        if state == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True, timeout=60)
            return
        if state in ("RUNNING", ""):  # started already, or gone from the queue
            return
        stop.wait(0.5)


@pytest.mark.slurm
@pytest.mark.slow
def test_a_job_requeued_mid_training_resumes_from_last_ckpt_and_ends_as_the_uninterrupted_job(seed_sweep):
    """Seed 1 again, held at step HOLD_AT (after that step's last.ckpt) until ``scontrol requeue``
    stops it; SLURM starts the same job again, which resumes and must end as the sweep's seed 1."""
    uninterrupted_sweep, done = seed_sweep
    assert done.returncode == 0, done.stderr[-4000:]
    sweep = uninterrupted_sweep.parent / "requeued"
    submitted = subprocess.Popen(
        _sweep_command(sweep, "seed=1", "+callbacks.hold._target_=slurm_helpers.HoldUntilStopped",
                       f"+callbacks.hold.step={HOLD_AT}"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_environment(uninterrupted_sweep.parent / "cache"))
    try:
        job, folder = _wait_for_hold(sweep, submitted)
        run = sweep / "seed_1"
        assert RunDir(run).last_checkpoint.is_file() and not RunDir(run).test_metrics.exists()
        subprocess.run(["scontrol", "requeue", job], check=True, timeout=60)
        _release_requeued(job)
        err = submitted.communicate(timeout=DEADLINE_S)[1]
    finally:
        if submitted.poll() is None:
            submitted.kill()
    assert submitted.returncode == 0, err[-4000:]
    # one job, its two tasks started twice: before the requeue and after it
    assert sorted(_task_starts(job, folder)) == [(0, RANKS), (0, RANKS), (1, RANKS), (1, RANKS)]
    rank0 = _task_log(job, folder, 0)
    resumed = re.search(r"resuming an unfinished run from (\S+)", rank0)
    assert resumed and Path(resumed.group(1)) == RunDir(run).last_checkpoint, rank0[-3000:]

    expected = _without_clock(json.loads((uninterrupted_sweep / "seed_1" / "test_metrics.json").read_text()))
    got = _without_clock(json.loads(RunDir(run).test_metrics.read_text()))
    print(f"\njob {job} requeued at step {HOLD_AT}: test PSNR {got['mean']['psnr']!r} resumed, "
          f"{expected['mean']['psnr']!r} uninterrupted")
    # one curve, as if never stopped: the first run's rows up to its checkpoint, the resumed run's after
    for key in ("train/loss", "val/psnr"):
        assert _logged(run, key) == _logged(uninterrupted_sweep / "seed_1", key), key
    assert got == expected


def _compose_with_hydra(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg


def test_the_cpu_launcher_gives_the_trainer_one_gloo_rank_per_task(monkeypatch):
    cfg = _compose_with_hydra(["launcher=slurm_cpu", "hydra.launcher.tasks_per_node=3",
                               "hydra.launcher.cpus_per_task=4", "hydra.launcher.timeout_min=30"])
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert launcher["gpus_per_node"] is None and launcher["tasks_per_node"] == 3  # no --gpus-per-node asked
    assert launcher["cpus_per_task"] == 4 and launcher["setup"] == ["export OMP_NUM_THREADS=4"]
    assert launcher["timeout_min"] == 30 and launcher["submitit_folder"].endswith("/.submitit/%j")
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert (trainer["accelerator"], trainer["strategy"]) == ("cpu", "ddp")  # gloo: Lightning's CPU backend
    assert (trainer["devices"], trainer["num_nodes"]) == (3, 1)
    assert processes_to_start(cfg.trainer) == 3  # outside SLURM, jointsr-train would start the ranks itself
    for key, value in {"SLURM_NTASKS": "3", "SLURM_NTASKS_PER_NODE": "3", "SLURM_JOB_NAME": "train",
                       "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_JOB_ID": "1",
                       "SLURM_NODELIST": "node1"}.items():
        monkeypatch.setenv(key, value)
    assert processes_to_start(cfg.trainer) == 1  # in a SLURM task: the tasks are the ranks
    GlobalHydra.instance().clear()
