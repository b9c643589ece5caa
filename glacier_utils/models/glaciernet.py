"""GlacierNet (Xie et al. 2020; paper §II-F): a SegNet-style encoder-decoder.

Xie et al. built GlacierNet from SegNet (Badrinarayanan 2017) by tuning the number and size of
layers and filters and the encoder depth for Landsat + DEM inputs. What makes it SegNet and not
U-Net: the decoder receives no encoder feature maps; it only re-uses the encoder's max-pooling
indices to put values back where the maxima were ("unpooling"), then convolves the sparse maps.

Layout here: four encoder stages (two 3x3 conv-BN-ReLU, then 2x2 max pooling that keeps its
argmax indices: layers ``pool_argmax_1..4``), widths f, 2f, 4f, 8f; a mirrored decoder
(``unpool_4..1`` with the stored indices, then two 3x3 conv-BN-ReLU); a 1x1 convolution to the
classes and softmax.

Open choices (ours): Xie et al.'s exact depth and widths are not reproduced in Chen et al. and
GlacierNet's code is not public; we take SegNet's two-convolution stages and stop at depth 4 (the
same depth as the other networks, 1/16 resolution), rather than VGG-16's five stages, in the spirit
of GlacierNet's reduced encoder. The unpooling is a true index unpooling
(``tf.nn.max_pool_with_argmax`` + scatter), not a substitute.
"""

from __future__ import annotations

import keras

from glacier_utils.models.blocks import MaxPoolingWithArgmax2D, MaxUnpooling2D, conv_bn_relu, model_input, softmax_head

DEPTH = 4


def build_glaciernet(n_bands: int = 7, tile_px: int | None = None, base_filters: int = 64) -> keras.Model:
    """SegNet-style GlacierNet with max-pooling-index unpooling and no skip concatenations."""
    inputs = model_input(n_bands, tile_px)
    x = inputs
    indices = []
    for stage in range(1, DEPTH + 1):
        filters = base_filters * 2 ** (stage - 1)
        x = conv_bn_relu(x, filters, f"enc{stage}_a")
        x = conv_bn_relu(x, filters, f"enc{stage}_b")
        x, argmax = MaxPoolingWithArgmax2D(name=f"pool_argmax_{stage}")(x)
        indices.append(argmax)
    for stage in range(DEPTH, 0, -1):
        x = MaxUnpooling2D(name=f"unpool_{stage}")([x, indices[stage - 1]])
        filters = base_filters * 2 ** (stage - 1)
        # The last conv of each decoder stage narrows to the next (finer) stage's width, as in SegNet.
        out_filters = base_filters * 2 ** max(stage - 2, 0)
        x = conv_bn_relu(x, filters, f"dec{stage}_a")
        x = conv_bn_relu(x, out_filters, f"dec{stage}_b")
    return keras.Model(inputs, softmax_head(x), name="glaciernet")
