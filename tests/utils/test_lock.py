"""One owner per run folder (jointsr.runs.lock): a second process is refused in one line naming
the owner, a killed owner's folder is taken over, a clean exit leaves the folder free."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jointsr.runs.folder import RunDir
from jointsr.runs.lock import FolderInUseError, Owner, owning

BIN = Path(sys.executable).parent
# a process that holds a folder until its stdin closes, saying so once it holds it
HOLDER = ("import sys\nfrom jointsr.runs.lock import owning\nwith owning(sys.argv[1], 'holder'):\n"
          "    print('held', flush=True)\n    sys.stdin.read()\n")


def _holder(folder: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def _recorded(folder: Path) -> Owner | None:
    return Owner.parse(RunDir(folder).lock.read_text())


def test_a_folder_is_held_while_its_run_lasts_and_free_after(tmp_path):
    with owning(tmp_path, "jointsr-train"):
        owner = _recorded(tmp_path)
        assert (owner.pid, owner.host, owner.command) == (os.getpid(), socket.gethostname(), "jointsr-train")
        with pytest.raises(FolderInUseError, match="in use by this process"):  # one run per folder, here too
            with owning(tmp_path, "jointsr-eval"):
                pass
    assert RunDir(tmp_path).lock.read_text() == ""  # released cleanly: nothing to take over
    with owning(tmp_path, "jointsr-eval"):
        assert _recorded(tmp_path).command == "jointsr-eval"


def test_another_process_is_refused_naming_the_owner_and_a_killed_owner_is_taken_over(tmp_path, caplog):
    holder = _holder(tmp_path)
    try:
        with pytest.raises(FolderInUseError) as refused:
            with owning(tmp_path, "jointsr-train"):
                pass
        assert f"{tmp_path.resolve()} is in use by PID {holder.pid} on {socket.gethostname()} (started " in \
            str(refused.value)
        assert _recorded(tmp_path).pid == holder.pid  # the refused process changed nothing
    finally:
        holder.send_signal(signal.SIGKILL)  # kill -9: nothing released on the way out but by the kernel
        holder.wait()
    assert _recorded(tmp_path).pid == holder.pid  # its record stays behind
    with caplog.at_level("WARNING", logger="jointsr"), owning(tmp_path, "jointsr-train"):
        assert _recorded(tmp_path).pid == os.getpid()
    assert f"taking over {tmp_path.resolve()} from PID {holder.pid}" in caplog.text
    assert "no longer running" in caplog.text


def test_a_stale_record_of_a_process_gone_from_this_host_is_taken_over(tmp_path, caplog):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = Owner(int(ended.stdout), socket.gethostname(), "2026-01-01T00:00:00+00:00", "jointsr-train")
    assert stale.gone()
    RunDir(tmp_path).lock.write_text(json.dumps(stale.__dict__))
    with caplog.at_level("WARNING", logger="jointsr"), owning(tmp_path, "jointsr-train"):
        assert _recorded(tmp_path).pid == os.getpid()
    assert f"from PID {stale.pid} on {stale.host} (started 2026-01-01T00:00:00+00:00, jointsr-train): no longer " \
           f"running" in caplog.text


def test_a_rank_of_a_launched_job_leaves_the_folder_to_its_rank_0(tmp_path, monkeypatch):
    holder = _holder(tmp_path)  # rank 0 of the job
    try:
        monkeypatch.setenv("RANK", "1")
        with owning(tmp_path, "jointsr-train"):  # torchrun's or SLURM's rank 1: not refused, holds nothing
            assert _recorded(tmp_path).pid == holder.pid
    finally:
        holder.stdin.close()
        holder.wait()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "eval"])
def test_a_second_command_on_a_held_folder_is_refused_in_one_line_before_any_work(tmp_path, command):
    """A real second process: ``jointsr-<command> hydra.run.dir=X`` while this process holds X.
    One line naming the owner, exit status 2, the first run's files as they were."""
    run = RunDir(tmp_path / "run")
    run.checkpoints.mkdir(parents=True)
    run.last_checkpoint.write_bytes(b"the first run's state")
    env = {**os.environ, "JOINTSR_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    with owning(run.root, "jointsr-train"):
        recorded = run.lock.read_text()
        second = subprocess.run([str(BIN / f"jointsr-{command}"), "model=bicubic", "logger=csv",
                                 f"hydra.run.dir={run.root}"], capture_output=True, text=True, env=env, timeout=300)
        assert run.lock.read_text() == recorded
    assert second.returncode == 2, second.stderr[-2000:]
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert lines == [f"jointsr-{command}: error: {run.root.resolve()} is in use by PID {os.getpid()} on "
                     f"{socket.gethostname()} (started {Owner.parse(recorded).started}, jointsr-train): wait for it "
                     f"to end or stop it (a killed run frees the folder for the next start), or choose another "
                     f"hydra.run.dir"], second.stderr
    assert run.last_checkpoint.read_bytes() == b"the first run's state"
    assert not run.test_metrics.exists() and not run.fingerprint.exists() and not run.csv.exists()
