"""U-Net (Ronneberger et al. 2015; paper §II-E).

The paper's layout: a contracting path of four stages (two 3x3 convolutions each, then 2x2
max pooling), a bottleneck of two 3x3 convolutions, an expansive path of four stages (a 2x2
up-convolution, concatenation with the skip, two 3x3 convolutions) and a 1x1 convolution to the
classes: 18 + 4 + 1 = 23 convolutional layers, widths f, 2f, 4f, 8f and 16f at the bottleneck
(f = 64 in the original).

Open choice: Ronneberger et al. used unpadded convolutions and cropped the skips; we use
``"same"`` padding so the output covers the whole input tile and tiles mosaic into whole scenes
without a margin (as the paper's 128x128 tiles imply). Each convolution is followed by batch
normalisation (not in the 2015 paper), used in every network here so the comparison isolates
architecture, not normalisation.

:func:`unet_backbone` is shared with SaU-Net and U-Net+cSE, which add their modules through its
hooks.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from glacier_utils.models.blocks import double_conv, max_pool, model_input, softmax_head, up_conv

#: Number of 2x2 poolings of the U-Net family.
DEPTH = 4


def unet_backbone(
    x,
    base_filters: int,
    bottleneck_hook: Callable | None = None,
    decoder_hook: Callable | None = None,
):
    """Encoder, bottleneck and decoder of U-Net; returns the last decoder feature map.

    ``bottleneck_hook(x)`` transforms the bottleneck features; ``decoder_hook(x, stage)`` the
    output of each decoder stage (stage 1 is the coarsest).
    """
    skips = []
    for stage in range(1, DEPTH + 1):
        x = double_conv(x, base_filters * 2 ** (stage - 1), f"enc{stage}")
        skips.append(x)
        x = max_pool(x, f"pool{stage}")
    x = double_conv(x, base_filters * 2**DEPTH, "bottleneck")
    if bottleneck_hook is not None:
        x = bottleneck_hook(x)
    for stage, skip in enumerate(reversed(skips), start=1):
        filters = base_filters * 2 ** (DEPTH - stage)
        x = up_conv(x, filters, f"up{stage}")
        x = layers.Concatenate(name=f"skip{stage}")([skip, x])
        x = double_conv(x, filters, f"dec{stage}")
        if decoder_hook is not None:
            x = decoder_hook(x, stage)
    return x


def build_unet(n_bands: int = 7, tile_px: int | None = None, base_filters: int = 64) -> keras.Model:
    """U-Net with 23 convolutional layers and a 2-class softmax (Ronneberger 2015, 'same' padding)."""
    inputs = model_input(n_bands, tile_px)
    x = unet_backbone(inputs, base_filters)
    return keras.Model(inputs, softmax_head(x), name="unet")
