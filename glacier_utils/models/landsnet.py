"""LandsNet (Yi & Zhang 2020) and M-LandsNet (Chen et al. 2022, paper §II-G and Fig. 4).

1. Encoder: three ResBlocks (two 3x3 convs + a 1x1 conv on a residual path, Yi et al. 2019), each
   followed by 2x2 max pooling; widths f, 2f, 4f.
2. Multiscale fusion at 1/8 resolution: three 3x3 dilated convolutions (8f filters) with rates
   (2, 4, 6) in LandsNet and (1, 2, 3) in M-LandsNet, aggregated from local to global:
   fuse(d1, d2) -> 1x1 conv -> fuse with d3 -> 1x1 conv (layers ``dilated_r{rate}``,
   ``fuse_1``, ``fuse_1_conv``, ``fuse_2``, ``fuse_2_conv``).
3. Decoder: three times [2x2 transposed convolution, attention gate (Oktay 2018) on the skip,
   concatenation, ResBlock]; widths 4f, 2f, f (``attention_gate_1..3``, coarse to fine).
4. A 1x1 convolution to the two classes and softmax.

Open choices (ours, also in the book's methods chapter):
- Parallel branches: the three dilated convolutions all read the pooled encoder output; only their
  aggregation is sequential. Chen et al. say the results "are not fused directly but are
  sequentially aggregated from local to global", citing the self-cascaded network of Liu et al.
  2018, whose dilated branches are parallel with a sequential aggregation.
- Fusion by concatenation (``fusion="concat"``, the default): each fusion is followed by a 1x1
  convolution, whose natural role is mixing and narrowing concatenated channels; ``"add"`` is
  available for comparison.
- Skips: the text pairs the decoder with "the result of the max pooling", but a pooled map has
  half the decoder's resolution at that stage; we take each encoder ResBlock's output just before
  its pooling (same resolution), as in U-Net and Attention U-Net.
- "The max pooling uses a 2x2 ... with a stride of 2": we use 2x2 max pooling, stride 2.
- The gating signal of each attention gate is the upsampled decoder map (see
  :func:`~glacier_utils.models.blocks.attention_gate`).
"""

from __future__ import annotations

import keras
from keras import layers

from glacier_utils.models.blocks import KERNEL_INIT, attention_gate, batch_norm, max_pool, model_input, res_block, softmax_head

#: Dilation rates of the multiscale fusion (paper §II-G, Fig. 4 caption).
LANDSNET_RATES: tuple[int, int, int] = (2, 4, 6)
M_LANDSNET_RATES: tuple[int, int, int] = (1, 2, 3)
FUSIONS = ("concat", "add")
DEPTH = 3


def _fuse(a, b, filters: int, index: int, fusion: str):
    """Fuse two maps (concat or add) and mix them with a 1x1 conv-BN-ReLU."""
    merged = (layers.Concatenate if fusion == "concat" else layers.Add)(name=f"fuse_{index}")([a, b])
    x = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=KERNEL_INIT,
                      name=f"fuse_{index}_conv")(merged)
    x = batch_norm(f"fuse_{index}_bn")(x)
    return layers.Activation("relu", name=f"fuse_{index}_relu")(x)


def multiscale_fusion(x, filters: int, rates: tuple[int, ...], fusion: str = "concat"):
    """Parallel 3x3 dilated convs at ``rates`` aggregated local to global (paper §II-G step 2)."""
    branches = []
    for rate in rates:
        d = layers.Conv2D(filters, 3, padding="same", dilation_rate=rate, use_bias=False,
                          kernel_initializer=KERNEL_INIT, name=f"dilated_r{rate}")(x)
        d = batch_norm(f"dilated_r{rate}_bn")(d)
        branches.append(layers.Activation("relu", name=f"dilated_r{rate}_relu")(d))
    fused = branches[0]
    for index, branch in enumerate(branches[1:], start=1):
        fused = _fuse(fused, branch, filters, index, fusion)
    return fused


def build_landsnet(
    n_bands: int = 7,
    tile_px: int | None = None,
    base_filters: int = 64,
    dilation_rates: tuple[int, ...] = LANDSNET_RATES,
    fusion: str = "concat",
    name: str = "landsnet",
) -> keras.Model:
    """LandsNet: ResBlock encoder, local-to-global dilated fusion, attention-gated decoder."""
    if fusion not in FUSIONS:
        raise ValueError(f"fusion={fusion!r}: choose one of {', '.join(FUSIONS)}")
    rates = tuple(int(r) for r in dilation_rates)
    if len(rates) < 2 or any(r < 1 for r in rates):
        raise ValueError(f"dilation_rates={dilation_rates!r}: give at least two positive integer rates")
    inputs = model_input(n_bands, tile_px)
    x = inputs
    skips = []
    for stage in range(1, DEPTH + 1):
        x = res_block(x, base_filters * 2 ** (stage - 1), f"resblock_{stage}")
        skips.append(x)
        x = max_pool(x, f"pool{stage}")
    x = multiscale_fusion(x, base_filters * 2**DEPTH, rates, fusion)
    for stage, skip in enumerate(reversed(skips), start=1):
        filters = base_filters * 2 ** (DEPTH - stage)
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", activation="relu",
                                   kernel_initializer=KERNEL_INIT, name=f"up{stage}")(x)
        gated = attention_gate(skip, x, f"attention_gate_{stage}")
        x = layers.Concatenate(name=f"skip{stage}")([gated, x])
        x = res_block(x, filters, f"resblock_{DEPTH + stage}")
    return keras.Model(inputs, softmax_head(x), name=name)


def build_m_landsnet(
    n_bands: int = 7,
    tile_px: int | None = None,
    base_filters: int = 64,
    dilation_rates: tuple[int, ...] = M_LANDSNET_RATES,
    fusion: str = "concat",
) -> keras.Model:
    """M-LandsNet: LandsNet with dilation rates (1, 2, 3) for small, fragmented glaciers (§II-G)."""
    return build_landsnet(n_bands, tile_px, base_filters, dilation_rates, fusion, name="m_landsnet")
