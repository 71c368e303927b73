"""Which torch device a model runs on: the GPU Spark gave this task, else CPU."""

from __future__ import annotations


def torch_device() -> str:
    """`cuda:<address>` of the GPU Spark assigned to the running task (resource scheduling:
    `spark.task.resource.gpu.amount`), `cuda:0` when CUDA is there but Spark assigned none (a
    plain Python process), `cpu` when there is no CUDA."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    from pyspark import TaskContext

    context = TaskContext.get()
    gpus = context.resources().get("gpu") if context is not None else None
    if gpus is not None and gpus.addresses:
        return f"cuda:{gpus.addresses[0]}"
    return "cuda:0"
