"""The seven networks of the paper (§II-E to §II-G), built by name.

>>> model = build_model("m_landsnet", n_bands=7, base_filters=8)

Every builder takes ``n_bands``, ``tile_px`` (None: any input side divisible by
``config.SIDE_MULTIPLE``, 16) and ``base_filters`` (the width multiplier: the first stage's filters;
deeper stages double it) and returns an uncompiled ``keras.Model`` with a 2-class softmax output
of shape (b, h, w, 2). Names follow :data:`glacier_utils.config.MODEL_NAMES`.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from glacier_utils import config
from glacier_utils.models.blocks import MaxPoolingWithArgmax2D, MaxUnpooling2D, SelfAttention2D
from glacier_utils.models.glaciernet import build_glaciernet
from glacier_utils.models.landsnet import LANDSNET_RATES, M_LANDSNET_RATES, build_landsnet, build_m_landsnet
from glacier_utils.models.saunet import build_saunet
from glacier_utils.models.unet import build_unet
from glacier_utils.models.unet_cse import build_unet_cse
from glacier_utils.models.unetpp import build_unetpp

#: Registry: model name (config.MODEL_NAMES) -> builder.
MODEL_BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "unet": build_unet,
    "unetpp": build_unetpp,
    "glaciernet": build_glaciernet,
    "saunet": build_saunet,
    "unet_cse": build_unet_cse,
    "landsnet": build_landsnet,
    "m_landsnet": build_m_landsnet,
}
assert tuple(MODEL_BUILDERS) == config.MODEL_NAMES, "registry and config.MODEL_NAMES disagree"

__all__ = [
    "MODEL_BUILDERS", "LANDSNET_RATES", "M_LANDSNET_RATES", "build_model",
    "count_params", "parameter_table", "SelfAttention2D", "MaxPoolingWithArgmax2D", "MaxUnpooling2D",
]


def _check_positive_int(value, parameter: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{parameter}={value!r}: expected a positive integer")
    return value


def build_model(
    name: str, n_bands: int = config.N_BANDS, tile_px: int | None = None, base_filters: int = 64, **kw,
) -> keras.Model:
    """Build network ``name`` (one of config.MODEL_NAMES) for ``n_bands`` inputs; extra kwargs go to its builder."""
    if name not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_BUILDERS)}")
    _check_positive_int(n_bands, "n_bands")
    _check_positive_int(base_filters, "base_filters")
    if tile_px is not None:
        _check_positive_int(tile_px, "tile_px")
        if tile_px % config.SIDE_MULTIPLE:
            raise ValueError(f"tile_px={tile_px}: the networks need a side divisible by {config.SIDE_MULTIPLE}")
    return MODEL_BUILDERS[name](n_bands=n_bands, tile_px=tile_px, base_filters=base_filters, **kw)


def count_params(name: str, profile: str | config.Profile = "paper", n_bands: int = config.N_BANDS) -> int:
    """Number of weights (trainable + batch-norm statistics) of ``name`` at ``profile``'s width."""
    prof = config.get_profile(profile)
    model = build_model(name, n_bands=n_bands, base_filters=prof.base_filters)
    return int(model.count_params())


def parameter_table(profile: str | config.Profile = "paper", n_bands: int = config.N_BANDS):
    """A DataFrame of every network's parameter count at ``profile``'s width (for the book)."""
    import pandas as pd  # deferred: only this table needs pandas, building networks does not

    prof = config.get_profile(profile)
    rows = [
        {"model": name, "label": config.METHOD_LABELS[name], "base_filters": prof.base_filters,
         "parameters": count_params(name, prof, n_bands)}
        for name in MODEL_BUILDERS
    ]
    return pd.DataFrame(rows).set_index("model")
