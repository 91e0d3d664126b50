"""xaxtui must never pull in JAX or its ecosystem, and must import fast."""

import json
import subprocess
import sys

FORBIDDEN = ("jax", "jaxlib", "equinox", "optax", "orbax")

CODE = """
import json, sys, time
t = time.perf_counter()
import xaxtui.app
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_app_import_is_jax_free_and_fast():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    print(f"import xaxtui.app: {report['seconds']:.3f} s")
    assert not set(FORBIDDEN) & set(report["loaded"])
    assert report["seconds"] < 3.0
