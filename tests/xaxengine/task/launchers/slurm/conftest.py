"""A real one-node Slurm cluster (``scripts/slurm_cluster.py``) for the tests in this folder, started once.

The fixture installs ``slurm-wlm`` and ``munge`` when they are missing (root with apt-get; ``.ci/run`` does it
too), starts munged, slurmctld and slurmd on loopback with everything under a temp dir, points ``SLURM_CONF`` at
its config for the tests and the engines they start, and stops the daemons by pid at the end. It skips (with the
reason) only where the packages cannot be installed or a daemon does not start.
"""

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[5] / "scripts" / "slurm_cluster.py"


def _cluster_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("slurm_cluster", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The running cluster (a ``SlurmCluster``); ``SLURM_CONF`` names its config while the session lasts."""
    module = _cluster_module()
    cluster = module.SlurmCluster(tmp_path_factory.mktemp("slurm-cluster"))
    try:
        cluster.start()
    except module.ClusterUnavailableError as error:
        pytest.skip(f"no Slurm test cluster: {error}")
    before = os.environ.get("SLURM_CONF")
    os.environ.update(cluster.env())
    try:
        yield cluster
    finally:
        cluster.stop()
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
