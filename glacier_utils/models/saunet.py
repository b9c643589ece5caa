"""SaU-Net (He et al. 2021; paper §II-F): U-Net with a self-attention module.

He et al. add a self-attention mechanism to U-Net to extract glacial lakes from Landsat 8. Their
code is not public; the paper text we reproduce (Chen 2022) says only that a self-attention
module is integrated into U-Net.

Open choices (ours): the module is a position (non-local) self-attention block
(:class:`~glacier_utils.models.blocks.SelfAttention2D`, after Wang 2018 / Fu 2019) placed on the
bottleneck, the one place where every pixel can attend to every other at an affordable
(h/16 * w/16)^2 cost and where the features are most semantic. Its learned gain starts at 0, so
the untrained network is exactly a U-Net and the module adds global context as it learns.
"""

from __future__ import annotations

import keras

from glacier_utils.models.blocks import SelfAttention2D, model_input, softmax_head
from glacier_utils.models.unet import unet_backbone


def build_saunet(
    n_bands: int = 7, tile_px: int | None = None, base_filters: int = 64, key_ratio: int = 8,
) -> keras.Model:
    """U-Net with a position self-attention layer ("self_attention") on the bottleneck."""
    inputs = model_input(n_bands, tile_px)
    attend = SelfAttention2D(key_ratio=key_ratio, name="self_attention")
    x = unet_backbone(inputs, base_filters, bottleneck_hook=attend)
    return keras.Model(inputs, softmax_head(x), name="saunet")
