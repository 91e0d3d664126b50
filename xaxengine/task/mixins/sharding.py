"""Placement of the train state and the batches on the devices of a layout.

:class:`Placement` (``single_device``) leaves everything where JAX puts it. :class:`MeshPlacement` is data parallel
over a 1-D mesh ``("data",)`` of every device of the job (all processes):

- The state (params, optimizer state, step, key) is replicated (``P()``); with ``launch.fsdp`` the arrays with at
  least ``fsdp_min_size`` elements are sharded over ``data`` along their largest evenly divisible axis instead.
- Small datasets stay on the devices as replicated columns; a step then only ships the index batch, sharded
  ``P("data")``, and each device gathers its own rows inside the jitted step (no host gather on the hot path).
  Large datasets stay on the host: each process gathers only its own rows and builds the global batch with
  ``jax.make_array_from_process_local_data``. On the Grain path each process reads only those rows
  (:meth:`Placement.local_rows`): no process reads the whole batch.
- The step's outputs are constrained to the input shardings, so the compiled step can donate its state buffers.
- Decisions that must be identical on every process (stop, checkpoint now) go through :meth:`Placement.agree`.
"""

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec, Sharding, SingleDeviceSharding
from jaxtyping import PyTree

Columns = dict[str, Any]


class Placement:
    """Single device: arrays stay on the default device; nothing is sharded, nothing is agreed on."""

    def __init__(self, layout: str = "single_device") -> None:
        """Creates the placement of a layout name (reported in ``run_start``)."""
        self.layout = layout
        self.num_devices = 1
        self.multi_process = False

    @property
    def devices(self) -> list[Any]:
        """The devices the step runs on."""
        return jax.local_devices()[:1]

    def put_state(self, state: PyTree) -> PyTree:
        """Puts the train state where the step expects it."""
        return state

    def shard_abstract(self, abstract: PyTree) -> PyTree:
        """Gives every ``ShapeDtypeStruct`` of a restore target its target sharding."""
        device = SingleDeviceSharding(jax.local_devices()[0])
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device), abstract)

    def put_columns(self, columns: Columns) -> Columns:
        """Places loaded columns (device arrays when small, numpy otherwise)."""
        return columns

    def replicate(self, tree: PyTree) -> PyTree:
        """Places small arrays (metric sums, keys) replicated on every device: on the one device here."""
        return jax.device_put(tree)

    def replicated_fn(self, fn: Callable[[], PyTree]) -> Callable[[], PyTree]:
        """``fn`` (no arguments) compiled so that its outputs land replicated on every device."""
        return jax.jit(fn)

    def step_data(self, columns: Columns, idx: np.ndarray, on_device: bool) -> tuple[Columns, Any]:
        """The data operands of a step: ``(columns, idx)`` when the columns are on device, else ``(batch, None)``."""
        if on_device:
            return columns, idx
        return {k: v[idx] for k, v in columns.items()}, None

    def local_rows(self, size: int) -> slice:
        """The rows of a global batch of ``size`` this process reads: all of them in one process."""
        del size
        return slice(None)

    def put_batch(self, batch: Columns, size: int | None = None) -> tuple[Columns, None]:
        """The step operands of a host batch (Grain, iterators): ``(batch on the device, None)``."""
        del size
        return {k: jax.device_put(v) for k, v in batch.items()}, None

    def constrain(self, fn: Callable[..., Any], out_shardings: Any) -> Callable[..., Any]:
        """Wraps a step so its outputs land on ``out_shardings`` (None: leave them to the compiler)."""
        del out_shardings
        return fn

    def state_shardings(self, state: PyTree) -> Any:
        """The shardings the state lives on (None on a single device)."""
        del state
        return None

    def agree(self, values: Sequence[int]) -> list[int]:
        """The element-wise maximum of ``values`` over every process (identity in one process)."""
        return list(values)

    @property
    def process_index(self) -> int:
        """This process's index (0 in one process)."""
        return 0

    def gather_json(self, value: Any) -> list[Any]:
        """``value`` (JSON-serializable) from every process, by process index (``[value]`` in one process)."""
        return [value]

    def describe(self, state: PyTree) -> str:
        """One line for the log: the layout, its devices and how the state is placed."""
        del state
        return f"layout {self.layout}: 1 device ({self.devices[0]})"


class MeshPlacement(Placement):
    """Data parallel over a 1-D ``("data",)`` mesh of ``devices`` (every process's devices in multi-process)."""

    def __init__(self, layout: str, devices: Sequence[Any], fsdp: bool = False, fsdp_min_size: int = 2**14) -> None:
        """Builds the mesh.

        Args:
            layout: The layout name reported in ``run_start``.
            devices: The devices of the mesh, in process order.
            fsdp: Shard large state arrays over the data axis instead of replicating them.
            fsdp_min_size: Arrays with fewer elements stay replicated under ``fsdp``.
        """
        super().__init__(layout)
        self.mesh = Mesh(np.asarray(devices), ("data",))
        self._devices = list(devices)
        self.num_devices = len(devices)
        self.multi_process = jax.process_count() > 1
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch = NamedSharding(self.mesh, PartitionSpec("data"))
        self.fsdp, self.fsdp_min_size = fsdp, fsdp_min_size
        self._local_rows: dict[int, slice] = {}

    @property
    def devices(self) -> list[Any]:
        """The devices of the mesh (every process's)."""
        return self._devices

    def leaf_sharding(self, shape: tuple[int, ...]) -> NamedSharding:
        """Replicated, or (FSDP) sharded over ``data`` along the largest axis the device count divides."""
        if not self.fsdp or int(np.prod(shape, dtype=np.int64)) < self.fsdp_min_size:
            return self.replicated
        axes = [a for a in np.argsort(shape)[::-1] if shape[a] % self.num_devices == 0]
        if not axes:
            return self.replicated
        spec = [None] * len(shape)
        spec[int(axes[0])] = "data"
        return NamedSharding(self.mesh, PartitionSpec(*spec))

    def state_shardings(self, state: PyTree) -> Any:
        """One sharding per state leaf."""
        return jax.tree.map(lambda x: self.leaf_sharding(tuple(np.shape(x))), state)

    def _put(self, x: Any, sharding: Sharding) -> jax.Array:
        if not self.multi_process:
            return jax.device_put(x, sharding)
        host = np.asarray(x)  # same value on every process (same seed / same checkpoint)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    def put_state(self, state: PyTree) -> PyTree:
        """Replicates (or FSDP-shards) every state leaf over the mesh."""
        return jax.tree.map(self._put, state, self.state_shardings(state))

    def shard_abstract(self, abstract: PyTree) -> PyTree:
        """Restore targets carry the mesh shardings, so Orbax reads straight into this layout."""
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self.leaf_sharding(tuple(x.shape))), abstract
        )

    def put_columns(self, columns: Columns) -> Columns:
        """Small (device) columns become replicated mesh arrays; host columns stay on the host."""
        if not columns or not isinstance(next(iter(columns.values())), jax.Array):
            return columns
        return {k: self._put(v, self.replicated) for k, v in columns.items()}

    def replicate(self, tree: PyTree) -> PyTree:
        """Replicates every leaf over the mesh."""
        return jax.tree.map(lambda x: self._put(x, self.replicated), tree)

    def replicated_fn(self, fn: Callable[[], PyTree]) -> Callable[[], PyTree]:
        """``fn`` (no arguments) compiled so that its outputs land replicated over the mesh."""
        return jax.jit(fn, out_shardings=self.replicated)

    def _rows(self, size: int) -> slice:
        """This process's contiguous rows of a batch of ``size`` sharded over the mesh."""
        if size not in self._local_rows:
            indices = self.batch.addressable_devices_indices_map((size,)).values()
            bounds = [index[0].indices(size)[:2] for index in indices if index is not None]
            self._local_rows[size] = slice(min(b[0] for b in bounds), max(b[1] for b in bounds))
        return self._local_rows[size]

    def _global(self, host: np.ndarray, size: int) -> jax.Array:
        """A global array sharded over ``data`` from the full batch (single process) or this process's rows."""
        sharding = self.batch if size % self.num_devices == 0 else self.replicated
        if not self.multi_process:
            return jax.device_put(host, sharding)
        if sharding is self.replicated:
            return jax.make_array_from_process_local_data(sharding, host)
        return jax.make_array_from_process_local_data(sharding, host, (size, *host.shape[1:]))

    def step_data(self, columns: Columns, idx: np.ndarray, on_device: bool) -> tuple[Columns, Any]:
        """Ships the sharded index batch (device columns) or this process's rows of the batch (host columns)."""
        size = len(idx)
        local = idx if not self.multi_process or size % self.num_devices else idx[self._rows(size)]
        if on_device:
            return columns, self._global(local, size)
        return {k: self._global(v[local], size) for k, v in columns.items()}, None

    def local_rows(self, size: int) -> slice:
        """The rows of a global batch of ``size`` this process holds (all of them when the batch is replicated)."""
        return self._rows(size) if self.multi_process and size % self.num_devices == 0 else slice(None)

    def put_batch(self, batch: Columns, size: int | None = None) -> tuple[Columns, None]:
        """A host batch sharded over ``data``.

        Without ``size`` every process holds the global batch and ships its own rows; with ``size`` (the global
        batch size) the batch is already this process's :meth:`local_rows`.
        """
        if size is None:
            size = len(next(iter(batch.values())))
            rows = self.local_rows(size)
            return {k: self._global(np.asarray(v)[rows], size) for k, v in batch.items()}, None
        return {k: self._global(np.asarray(v), size) for k, v in batch.items()}, None

    def constrain(self, fn: Callable[..., Any], out_shardings: Any) -> Callable[..., Any]:
        """Constrains ``fn``'s outputs to ``out_shardings`` inside the jitted computation."""

        @functools.wraps(fn)  # keeps the step's name in XLA dumps and profiles
        def constrained(*args: Any) -> Any:
            return jax.lax.with_sharding_constraint(fn(*args), out_shardings)

        return constrained

    def describe(self, state: PyTree) -> str:
        """One line for the log: devices, processes, batch split and how many state arrays FSDP shards."""
        leaves = jax.tree.leaves(state)
        sharded = sum(not self.leaf_sharding(tuple(np.shape(x))).is_fully_replicated for x in leaves)
        return (
            f"layout {self.layout}: data parallel over {self.num_devices} devices in {jax.process_count()} "
            f"process(es); {sharded} of {len(leaves)} state arrays sharded (fsdp={self.fsdp}), the rest replicated"
        )

    def agree(self, values: Sequence[int]) -> list[int]:
        """Element-wise maximum over every process (one small all-gather; call it at log boundaries only)."""
        if not self.multi_process:
            return list(values)
        from jax.experimental import multihost_utils

        gathered = multihost_utils.process_allgather(np.asarray(values, dtype=np.int32))
        return [int(v) for v in np.asarray(gathered).reshape(-1, len(values)).max(axis=0)]

    @property
    def process_index(self) -> int:
        """This process's index (``jax.process_index()``)."""
        return jax.process_index() if self.multi_process else 0

    def gather_json(self, value: Any) -> list[Any]:
        """``value`` (JSON-serializable) from every process, by process index: two small all-gathers (a collective)."""
        if not self.multi_process:
            return [value]
        from jax.experimental import multihost_utils

        encoded = np.frombuffer(json.dumps(value).encode(), np.uint8)
        longest = int(np.max(multihost_utils.process_allgather(np.asarray([len(encoded)], np.int32))))
        padded = np.zeros(longest, np.uint8)
        padded[: len(encoded)] = encoded
        rows = np.asarray(multihost_utils.process_allgather(padded)).reshape(-1, longest)
        return [json.loads(bytes(row).rstrip(b"\0").decode()) for row in rows]


def make_placement(layout: str, num_devices: int, fsdp: bool, fsdp_min_size: int, batch_size: int) -> Placement:
    """The placement of a layout, built after ``jax.distributed`` (if any) is initialized.

    Args:
        layout: ``single_device``, ``multi_device``, ``multi_cpu`` or ``multi_process``.
        num_devices: ``multi_device``: how many local devices (0 = all); ignored otherwise (every device is used).
        fsdp: Shard large state arrays over the data axis.
        fsdp_min_size: Arrays with fewer elements stay replicated under ``fsdp``.
        batch_size: The global batch size, which must split evenly over the devices.

    Raises:
        ValueError: Too few devices, or a batch size the device count does not divide.
    """
    if layout == "single_device":
        return Placement()
    devices = jax.devices()
    if layout == "multi_device" and num_devices:
        if num_devices > len(devices):
            raise ValueError(f"launch.num_devices={num_devices} but only {len(devices)} devices are visible")
        devices = devices[:num_devices]
    if batch_size % len(devices):
        raise ValueError(
            f"data.batch_size={batch_size} does not divide over {len(devices)} devices (it is the global batch)"
        )
    return MeshPlacement(layout, devices, fsdp, fsdp_min_size)
