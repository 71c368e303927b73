"""Which brand a caption or a sentence names next, and the name it uses."""

from __future__ import annotations

import numpy as np

from jobs.common.config import Brand


def next_named(
    random: np.random.Generator, brands: list[Brand], unnamed: list[Brand]
) -> tuple[Brand, str]:
    """The next brand to name, each before any twice (`unnamed`, consumed: those not named
    yet, in order), and its catalog name or one of its aliases, so both are scored."""
    brand = unnamed.pop(0) if unnamed else brands[int(random.integers(len(brands)))]
    return brand, str(random.choice([brand.name, *brand.aliases]))
