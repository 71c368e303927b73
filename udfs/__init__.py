"""pandas/Arrow UDFs and the model code they call (decoding, detection, embedding, brand safety)."""

from jobs.common import environment as _environment

_environment.apply()
