"""U-Net+cSE (Tian et al. 2022; paper §II-F): U-Net with channel squeeze-and-excitation.

Tian et al. improve U-Net for mountain-glacier mapping (Landsat 8 OLI + SRTM, Pamir) with a
channel squeeze-and-excitation ("cSE", Roy et al. 2018) model. Their code is not public.

Open choices (ours): one cSE block after each of the four decoder stages (``cse_1`` ... ``cse_4``,
coarse to fine), where the concatenated encoder and decoder channels have just been mixed and a
channel re-weighting can suppress skip features that look like glacier but are not (snow, bright
rock); reduction ratio 2 (Roy et al.).
"""

from __future__ import annotations

import keras

from glacier_utils.models.blocks import channel_squeeze_excitation, model_input, softmax_head
from glacier_utils.models.unet import unet_backbone


def build_unet_cse(
    n_bands: int = 7, tile_px: int | None = None, base_filters: int = 64, reduction: int = 2,
) -> keras.Model:
    """U-Net with a channel squeeze-and-excitation block after every decoder stage."""
    inputs = model_input(n_bands, tile_px)

    def add_cse(x, stage):
        return channel_squeeze_excitation(x, f"cse_{stage}", reduction=reduction)

    x = unet_backbone(inputs, base_filters, decoder_hook=add_cse)
    return keras.Model(inputs, softmax_head(x), name="unet_cse")
