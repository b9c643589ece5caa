"""U-Net++ (Zhou et al. 2018; paper §II-E): U-Net with nested, dense skip pathways.

Nodes X^{i,j} (i = depth 0..4, j = position along the skip pathway): the backbone X^{i,0} is
U-Net's encoder (two 3x3 convolutions, 2x2 max pooling between depths); every other node is

    X^{i,j} = two 3x3 convs( concat[ X^{i,0}, ..., X^{i,j-1}, up(X^{i+1,j-1}) ] )

so each skip is a dense block of convolutions that narrows the semantic gap between encoder and
decoder features. The output is a 1x1 convolution on X^{0,4}. Node X^{i,j} has 2^i * f filters.

Open choices: Zhou et al. use f = 32 (widths 32..512); we use the profile's ``base_filters`` like
every other network (64 in the paper profile), so all seven share one width rule. Upsampling is a
2x2 transposed convolution (as in Zhou et al.'s Keras code). Deep supervision (averaging heads on
X^{0,1..4}) is available with ``deep_supervision=True`` but off by default, since Chen et al.
report no such training detail.
"""

from __future__ import annotations

import keras
from keras import layers

from glacier_utils.models.blocks import double_conv, max_pool, model_input, softmax_head, up_conv

DEPTH = 4


def node_name(i: int, j: int) -> str:
    """Layer name of node X^{i,j}, e.g. ``"x01"``."""
    return f"x{i}{j}"


def build_unetpp(
    n_bands: int = 7, tile_px: int | None = None, base_filters: int = 64, deep_supervision: bool = False,
) -> keras.Model:
    """U-Net++ with nodes named ``x{i}{j}``; optional deep supervision averages four heads."""
    inputs = model_input(n_bands, tile_px)
    nodes: dict[tuple[int, int], keras.KerasTensor] = {}
    x = inputs
    for i in range(DEPTH + 1):
        if i > 0:
            x = max_pool(nodes[(i - 1, 0)], f"pool{i}")
        nodes[(i, 0)] = double_conv(x, base_filters * 2**i, node_name(i, 0))
    for j in range(1, DEPTH + 1):
        for i in range(DEPTH + 1 - j):
            filters = base_filters * 2**i
            up = up_conv(nodes[(i + 1, j - 1)], filters, f"up_{node_name(i + 1, j - 1)}")
            inputs_ij = [nodes[(i, k)] for k in range(j)] + [up]
            x = layers.Concatenate(name=f"cat_{node_name(i, j)}")(inputs_ij)
            nodes[(i, j)] = double_conv(x, filters, node_name(i, j))
    if deep_supervision:
        heads = [softmax_head(nodes[(0, j)], name_prefix=f"head{j}_") for j in range(1, DEPTH + 1)]
        output = layers.Average(name="softmax", dtype="float32")(heads)
    else:
        output = softmax_head(nodes[(0, DEPTH)])
    return keras.Model(inputs, output, name="unetpp")
