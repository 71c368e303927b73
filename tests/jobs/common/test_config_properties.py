"""Configuration fuzz: any key, known or not, set to any value, gives a Settings or the
configuration error naming the key; never a traceback from deeper down."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.common.config import ConfigError, conf_dir, load_settings


def dotted_keys(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        keys.append(path)
        if isinstance(value, dict):
            keys += dotted_keys(value, f"{path}.")
    return keys


KNOWN = sorted(dotted_keys(yaml.safe_load((conf_dir() / "base.yaml").read_text())))
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = st.sampled_from(KNOWN) | st.builds(
    lambda known, extra: f"{known}.{extra}", st.sampled_from(KNOWN),
    st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, min_size=1, max_size=3))
def test_any_override_gives_settings_or_a_configuration_error(overrides):
    try:
        load_settings(overrides)
    except ConfigError as error:
        assert str(error)  # a message, naming what is wrong
