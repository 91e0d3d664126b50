"""GPU statistics through NVML (nvidia-ml-py); no NVML or no GPU means an empty list, never a crash."""

import logging

logger = logging.getLogger(__name__)


class GPUStats:
    """Reads NVML once per sample; initializes lazily and remembers when NVML is unavailable.

    Without NVML or without a GPU, :meth:`sample` returns an empty list and ``nvml_error`` holds the one
    line the task logs once.
    """

    def __init__(self, enabled: bool = True) -> None:
        """``enabled`` is ``gpu_stats.enabled``; NVML is initialized at the first :meth:`sample`."""
        self.enabled = enabled
        self._nvml_handles: list[object] | None = None
        self.nvml_error: str | None = None

    def _init_nvml(self) -> list[object]:
        if self._nvml_handles is not None:
            return self._nvml_handles
        self._nvml_handles = []
        if not self.enabled:
            return self._nvml_handles
        try:
            import pynvml

            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._nvml_handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except Exception as e:
            self._nvml_handles = []
            self.nvml_error = f"no GPU statistics: NVML unavailable ({type(e).__name__}: {e})"
            return self._nvml_handles
        if not self._nvml_handles:
            self.nvml_error = "no GPU statistics: NVML found no GPU"
        return self._nvml_handles

    def sample(self) -> list[dict[str, object]]:
        """Returns one dict per GPU: index, name, util_percent, mem_used/total bytes, temp_c, power_w."""
        handles = self._init_nvml()
        if not handles:
            return []
        import pynvml

        gpus: list[dict[str, object]] = []
        for index, handle in enumerate(handles):
            try:
                util = pynvml.nvmlDeviceGetUtilizationRates(handle)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                gpus.append(
                    {
                        "index": index,
                        "name": name.decode() if isinstance(name, bytes) else str(name),
                        "util_percent": float(util.gpu),
                        "mem_used_bytes": int(memory.used),
                        "mem_total_bytes": int(memory.total),
                        "temp_c": float(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
                        "power_w": pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                    }
                )
            except Exception:
                logger.debug("NVML read failed for GPU %d", index, exc_info=True)
        return gpus
