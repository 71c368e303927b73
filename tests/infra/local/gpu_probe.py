"""Run on the standalone cluster by test_cluster.py: which GPU Spark gives each task of a pandas
UDF, on which executor, and when. Prints one JSON list on its last line."""

from __future__ import annotations

import json
import os
import time

import pandas as pd
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType

from jobs.common.spark import build_session
from jobs.entrypoint import command_settings


@pandas_udf(StringType())
def probe(ids: pd.Series) -> pd.Series:
    from pyspark import TaskContext

    from udfs.devices import assigned_gpu

    started = time.time()
    time.sleep(3)  # long enough for the tasks that share a GPU to overlap
    found = {
        "gpu": assigned_gpu(),
        "partition": TaskContext.get().partitionId(),
        "executor": os.environ.get("SPARK_LOCAL_DIRS"),  # one folder per worker
        "start": started,
        "end": time.time(),
    }
    return pd.Series([json.dumps(found)] * len(ids))


if __name__ == "__main__":
    spark = build_session(command_settings(), "brandlake-gpu-probe")
    rows = spark.range(0, 8, numPartitions=8).select(probe("id").alias("found")).distinct()
    print(json.dumps([json.loads(r.found) for r in rows.collect()]))
    spark.stop()
