"""What `spark-submit` runs for `brandlake submit JOB` (infra/spark/submit.py): the job's own
command line, exactly as `brandlake run JOB [--available-now] [--set key=value ...]` runs it.

    spark-submit [...] jobs/spark_main.py frame-analysis --available-now

The driver imports brandlake from the repository this file is in (its `conf/` and `models/`
are beside it); brandlake's wheel, which spark-submit also puts on the driver's path, is for
the executors.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    repository = Path(__file__).resolve().parents[1]
    sys.path[0] = str(repository)  # not jobs/ itself: its modules are not top-level ones
    from jobs.cli import main

    sys.exit(main(["run", *sys.argv[1:]]))
