"""The fake engine plus a ``devices`` command: ``FAKE_LAYOUTS`` (comma separated) lists the layouts it allows."""

import json
import os
import sys
from pathlib import Path

FAKE_ENGINE = Path(__file__).resolve().parents[1] / "fixtures" / "fake_engine.py"

if __name__ == "__main__":
    if sys.argv[1:2] == ["devices"]:
        layouts = os.environ.get("FAKE_LAYOUTS", "single_device").split(",")
        devices = [{"id": i, "kind": "cpu", "platform": "cpu"} for i in range(2)]
        payload = {"platform": "cpu", "devices": devices, "layouts": layouts, "max_cpu_devices": 4, "num_devices": 2}
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.exit(0)
    os.execv(sys.executable, [sys.executable, str(FAKE_ENGINE), *sys.argv[1:]])
