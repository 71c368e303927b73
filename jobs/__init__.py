"""brandlake's Spark jobs, one module per job, each with a `main()`."""

from jobs.common import environment as _environment

_environment.apply()
