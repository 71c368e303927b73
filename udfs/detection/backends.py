"""Where a YOLO detector runs: eager PyTorch, or the model exported for the device's runtime.

`models.backend` chooses: `torch`, `onnxruntime`, `openvino`, `tensorrt`, or `auto`, the fastest
one installed for the task's device (CPU: OpenVINO, else ONNX Runtime; GPU: TensorRT, else
ONNX Runtime's CUDA provider, else torch). Ultralytics exports the weights once per weights
file (by content hash), backend, input size and, for TensorRT, GPU model, into the machine's
Spark local dir (`udfs.artefacts.exports_cache`); later tasks, and later runs, load the
export. An export that fails (a missing package, an operator the runtime lacks) leaves the
detector on torch with a warning naming the model and the reason: a slower job, never a failed
one.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

log = logging.getLogger("brandlake.backends")

# Ultralytics' export format and what it writes, per backend
_FORMATS = {"onnxruntime": ("onnx", ".onnx"), "openvino": ("openvino", "_openvino_model"),
            "tensorrt": ("engine", ".engine")}  # fmt: skip


class ExportError(RuntimeError):
    """A model could not be exported to a backend; the message says which and why."""


def installed(backend: str, device: str) -> bool:
    """Whether `backend` can run on `device` (`cpu` or `cuda:N`) in this Python."""
    gpu = device.startswith("cuda")
    if backend == "torch":
        return True
    if backend == "openvino":
        return not gpu and find_spec("openvino") is not None
    if backend == "tensorrt":
        return gpu and find_spec("tensorrt") is not None
    if backend == "onnxruntime" and find_spec("onnxruntime") is not None:
        if not gpu:
            return True
        import onnxruntime

        return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    return False


def choose(requested: str, device: str) -> str:
    """The backend to run on `device`: `requested` when installed, else the best that is."""
    if requested != "auto":
        if installed(requested, device):
            return requested
        log.warning("models.backend %s is not available on %s: using torch", requested, device)
        return "torch"
    order = (
        ("tensorrt", "onnxruntime") if device.startswith("cuda") else ("openvino", "onnxruntime")
    )
    chosen = next((b for b in order if installed(b, device)), "torch")
    log.info("models.backend auto on %s: %s (of %s, torch)", device, chosen, ", ".join(order))
    return chosen


def exported(weights: Path, backend: str, image_size: int, device: str, cache: Path) -> Path:
    """The export of `weights` for `backend` at `image_size`, made the first time under `cache`.

    Raises `ExportError` when Ultralytics cannot export it."""
    key = _key(weights, backend, image_size, device)
    return cached_export(
        cache,
        key,
        _exported_name(weights, backend),
        lambda staging: _export(weights, staging, backend, image_size, device),
    )


def cached_export(cache: Path, key: str, name: str, make: Callable[[Path], None]) -> Path:
    """`<cache>/<key>/<name>`, which `make(folder)` writes into an empty folder the first time;
    tasks that ask at once wait for the first one's export (a lock per key), which appears
    whole or not at all (staged, then renamed into place)."""
    folder = cache / key
    target = folder / name
    if target.exists():
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = open(cache / f".{key}.lock", "w")  # noqa: SIM115 - closed below
    except OSError as error:  # a read-only or full scratch folder
        raise ExportError(f"cannot keep exports under {cache}: {error}") from error
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one export per executor; the others wait for it
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".{key}-"))
        try:
            make(staging)
            if not (staging / name).exists():
                raise ExportError(f"{key}: the exporter wrote no {name}")
            os.rename(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("%s exported into %s", name, folder)
    return target


def registry_exports(weights: Path, image_size: int, cache: Path) -> list[Path]:
    """The CPU exports of `weights` at `image_size` for every backend installed here, made
    into `cache`, each a folder named by the key executors look it up by: a registered version
    carries them, so executors fetch them instead of exporting (`udfs.artefacts`). A failed
    export is left out, with a warning; executors then make it themselves, or run torch."""
    folders = []
    for backend in ("onnxruntime", "openvino"):
        if not installed(backend, "cpu"):
            continue
        try:
            folders.append(exported(weights, backend, image_size, "cpu", cache).parent)
        except ExportError as error:
            log.warning("%s: no %s export to register (%s)", weights.name, backend, error)
    return folders


def _export(weights: Path, staging: Path, backend: str, image_size: int, device: str) -> None:
    from ultralytics import YOLO

    copy = staging / weights.name
    shutil.copyfile(weights, copy)  # Ultralytics writes the export beside the weights
    export_format, _ = _FORMATS[backend]
    options = {"format": export_format, "imgsz": image_size, "dynamic": True, "verbose": False}
    if backend == "tensorrt":
        options.update(device=device, half=True)  # built on, and for, this GPU
    elif backend == "onnxruntime":
        options.update(simplify=True)
    try:
        YOLO(str(copy)).export(**options)
    except Exception as error:  # Ultralytics raises what its exporter's libraries raise
        raise ExportError(f"{weights.name} -> {backend}: {error}") from error
    copy.unlink()  # the export is all a backend loads


def _exported_name(weights: Path, backend: str) -> str:
    return weights.stem + _FORMATS[backend][1]


def _key(weights: Path, backend: str, image_size: int, device: str) -> str:
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    parts = [weights.stem, digest, backend, str(image_size), f"ultralytics{version('ultralytics')}"]
    if backend == "tensorrt":  # an engine only runs on the GPU model it was built for
        import torch

        parts.append(torch.cuda.get_device_name(device).replace(" ", "_"))
    return "-".join(parts)


def load(weights: str, task: str, device: str, backend: str, image_size: int, cache: Path):
    """An Ultralytics model of `weights` on `backend` (exported as needed), and the backend it
    ended up on: torch when the export failed."""
    from ultralytics import YOLO

    if backend != "torch":
        try:
            folder = exported(Path(weights), backend, image_size, device, cache)
            model = YOLO(str(folder), task=task)
            if backend == "openvino":
                _openvino_in_f32(model, folder, image_size, device)
            return model, backend
        except ExportError as error:
            log.warning("%s: no %s export (%s): running it on torch", Path(weights).name,
                        backend, error)  # fmt: skip
    model = YOLO(weights, task=task)
    model.to(device)
    return model, "torch"


def _openvino_in_f32(model, folder: Path, image_size: int, device: str) -> None:
    """Compile an OpenVINO model for f32 inference, as torch runs it. On CPUs with bfloat16
    (AVX-512 BF16, AMX) OpenVINO computes in bfloat16 by default, and boxes near the confidence
    threshold then come and go (measured: 1 person where torch found 3 on an AMD EPYC with
    avx512_bf16). Ultralytics compiles on its first predict, so one blank frame builds it first,
    with the `device` every later predict passes (a different one would rebuild it)."""
    import numpy as np
    import openvino as ov
    import torch

    threads = torch.get_num_threads()  # Ultralytics' first predict changes it process-wide
    blank = np.zeros((image_size, image_size, 3), np.uint8)
    model.predict(blank, imgsz=image_size, device=device, verbose=False)
    torch.set_num_threads(threads)
    runtime = model.predictor.model.backend
    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": ov.Type.f32}
    runtime.compile_model = partial(core.compile_model, device_name="CPU", config=config)
    runtime.ov_compiled_model = runtime.compile_model(core.read_model(next(folder.glob("*.xml"))))
