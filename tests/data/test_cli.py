"""``jointsr-data prepare | verify | list`` on the real CAVE data, with a temporary cache."""

from __future__ import annotations

import h5py
import pytest
from conftest import require_data

from jointsr.cli.data import main, run


@pytest.mark.slow
def test_prepare_then_verify_then_detect_a_corrupt_store(compose_cfg, tmp_path, capsys):
    require_data("cave")
    overrides = ["data=cave", "scale=x8", "data.progress=false"]
    assert run(compose_cfg("data_cli", ["command=prepare", *overrides])) == 0
    assert "built" in capsys.readouterr().out
    assert run(compose_cfg("data_cli", ["command=prepare", *overrides])) == 0
    assert "hit" in capsys.readouterr().out
    (store,) = (tmp_path / "cache").glob("cave-x8-p48-*.h5")
    assert run(compose_cfg("data_cli", ["command=verify", *overrides])) == 0
    output = capsys.readouterr().out
    assert "ok cave" in output and "0 problem(s)" in output
    with h5py.File(store, "r+") as handle:
        handle["lr"][0, 0, 0, 0] = 2.0
    assert run(compose_cfg("data_cli", ["command=verify", "decode=false", *overrides])) == 1
    assert "content hash mismatch" in capsys.readouterr().out
    assert run(compose_cfg("data_cli", ["command=verify", "decode=false", "fix=true", *overrides])) == 0
    assert not store.exists()
    assert run(compose_cfg("data_cli", ["command=list", *overrides])) == 0


def test_unknown_command_is_named(compose_cfg):
    with pytest.raises(ValueError, match="unknown command 'fetch'.*prepare, verify, list"):
        run(compose_cfg("data_cli", ["command=fetch"]))


def test_command_line_takes_the_command_first(monkeypatch, tmp_path):
    require_data("cave")
    monkeypatch.setenv("JOINTSR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("sys.argv", ["jointsr-data", "list", "data=cave"])
    with pytest.raises(SystemExit) as exit_status:
        main()
    assert exit_status.value.code == 0
