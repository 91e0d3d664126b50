"""Under ``multi_process`` each process reads only its own rows of every global batch (a real 2-process CPU run)."""

import numpy as np

from tasks.mnist import load_digits_dataset
from tests.conftest import run_engine
from tests.xaxengine.data.kill_resume import final_status, run_dir_of
from xaxengine.data.transforms import epoch_order

TOML = "tests/xaxengine/data/augment.toml"
STEPS, BATCH = 6, 64


def test_two_processes_read_disjoint_halves_that_cover_each_global_batch(runs_dir, tmp_path):
    record = tmp_path / "record"
    record.mkdir()
    args = [
        "launch.layout=multi_process",
        "launch.num_processes=2",
        "launch.num_devices=1",
        f"train.max_steps={STEPS}",
        "checkpoint.save_every_n_steps=0",
        "data.num_workers=0",
        f"record_dir={record}",
    ]
    proc = run_engine("run", TOML, *args, "--runs-dir", str(runs_dir), "--run-id", "mp", timeout=400)
    assert proc.returncode == 0, proc.stderr
    assert final_status(run_dir_of(runs_dir, "mp"))["state"] == "finished"
    read = {rank: [int(x) for x in (record / f"rank{rank}.txt").read_text().split()] for rank in (0, 1)}
    assert len(set(read[0])) == len(read[0]) and len(set(read[1])) == len(read[1]), "an example was read twice"
    assert not set(read[0]) & set(read[1]), "both processes read the same examples"

    order = epoch_order(len(load_digits_dataset("train", 0.1)), 0, 0, True)  # augment.toml: seed 0, shuffled
    batches = [order[k * BATCH : (k + 1) * BATCH] for k in range(STEPS + 1)]  # the pipeline builds one spare
    halves = {0: [b[: BATCH // 2] for b in batches], 1: [b[BATCH // 2 :] for b in batches]}
    for rank in (0, 1):
        trained = set(np.concatenate(halves[rank][:STEPS]).tolist())
        assert trained <= set(read[rank]), f"rank {rank} did not read its half of every batch it trained on"
        assert set(read[rank]) <= set(np.concatenate(halves[rank]).tolist()), f"rank {rank} read the other's rows"
    assert len(read[0]) + len(read[1]) < len(order) // 2, "the processes read far more than their batches"


def test_two_processes_stream_their_own_shards_and_each_resumes_its_own_position(runs_dir, tmp_path):
    from tests.xaxengine.data.kill_resume import train_losses

    def run(run_id: str, steps: int, *extra: str) -> None:
        record = tmp_path / run_id
        record.mkdir(exist_ok=True)
        args = [
            "task=tests.xaxengine.data.data_tasks:StreamingAugmentedTask",
            "launch.layout=multi_process", "launch.num_processes=2", "launch.num_devices=1",
            f"train.max_steps={steps}", "checkpoint.save_every_n_steps=4", "data.num_workers=0",
            f"record_dir={record}",
        ]  # fmt: skip
        proc = run_engine("run", TOML, *args, *extra, "--runs-dir", str(runs_dir), "--run-id", run_id, timeout=400)
        assert proc.returncode == 0, proc.stderr

    run("whole", 8)
    read = {rank: [int(x) for x in (tmp_path / "whole" / f"rank{rank}.txt").read_text().split()] for rank in (0, 1)}
    assert len(read[0]) == len(set(read[0])) >= 8 * BATCH // 2, "a process re-read or skipped its rows"
    assert not set(read[0]) & set(read[1]), "both processes streamed the same examples"
    assert len(read[0]) + len(read[1]) < len(load_digits_dataset("train", 0.1)) // 2, "a process read the whole set"

    run("cut", 4)
    resumed = run_engine("resume", str(run_dir_of(runs_dir, "cut")), "train.max_steps=8", timeout=400)
    assert resumed.returncode == 0, resumed.stderr
    assert train_losses(run_dir_of(runs_dir, "cut")) == train_losses(run_dir_of(runs_dir, "whole"))  # bitwise
