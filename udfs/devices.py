"""Which torch device a model runs on: the GPU Spark gave this task, else CPU."""

from __future__ import annotations


def assigned_gpu() -> str | None:
    """The address of the GPU Spark assigned to the running task (resource scheduling:
    `spark.task.resource.gpu.amount`; tasks sharing a GPU get the same address); None outside
    a task or without GPU scheduling."""
    from pyspark import TaskContext

    context = TaskContext.get()
    gpus = context.resources().get("gpu") if context is not None else None
    return gpus.addresses[0] if gpus is not None and gpus.addresses else None


def torch_device() -> str:
    """`cuda:<address>` of the GPU Spark assigned to the running task, `cuda:0` when CUDA is
    there but Spark assigned none (a plain Python process), `cpu` when there is no CUDA."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{assigned_gpu() or 0}"
