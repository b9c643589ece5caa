"""Building blocks shared by the seven networks (paper §II-E to §II-G).

Every convolution uses the glorot-normal initialiser of the paper's recipe (§II-G) and
``"same"`` padding, so a network's output has the size of its input. Convolutions that feed a
batch normalisation carry no bias (the normalisation's beta replaces it).

The three custom layers (:class:`SelfAttention2D`, :class:`MaxPoolingWithArgmax2D`,
:class:`MaxUnpooling2D`) are registered with Keras so that ``.keras`` files reload without
``custom_objects``. The two pooling layers call TensorFlow directly: Keras 3 has no portable
"max-pool with indices" op, and the project runs on the TensorFlow backend (pyproject).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

#: Paper §II-G: "the glorot normal initializer [46] was adopted to initialize weights".
KERNEL_INIT = "glorot_normal"
#: Number of output classes: 0 = not glacier, 1 = glacier (2-class softmax, paper §II-G step 4).
N_CLASSES = 2
#: BatchNorm moving-average momentum. Keras's 0.99 needs hundreds of steps before the inference
#: statistics match the batch statistics; a small training set (the quick profile's Scene 2 has 8
#: batches an epoch) then validates a network on stale statistics and early stopping never sees it
#: learn (GlacierNet, without skips, stayed at "no glacier"). 0.9 tracks within tens of steps.
BN_MOMENTUM = 0.9


def batch_norm(name: str) -> layers.BatchNormalization:
    """The project's BatchNormalization layer (momentum ``BN_MOMENTUM``)."""
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)

def conv_bn_relu(x, filters: int, name: str, kernel_size: int = 3, dilation_rate: int = 1):
    """One 3x3 (by default) convolution, batch normalisation and ReLU; the ReLU layer is ``name``."""
    x = layers.Conv2D(
        filters, kernel_size, padding="same", dilation_rate=dilation_rate, use_bias=False,
        kernel_initializer=KERNEL_INIT, name=f"{name}_conv",
    )(x)
    x = batch_norm(f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def double_conv(x, filters: int, name: str):
    """U-Net's unit: two successive 3x3 conv-BN-ReLU (Ronneberger 2015); output layer is ``name``."""
    x = conv_bn_relu(x, filters, f"{name}_a")
    return conv_bn_relu(x, filters, name)


def up_conv(x, filters: int, name: str):
    """U-Net's "up-convolution": a 2x2 transposed convolution with stride 2, then ReLU."""
    return layers.Conv2DTranspose(
        filters, 2, strides=2, padding="same", activation="relu",
        kernel_initializer=KERNEL_INIT, name=name,
    )(x)


def max_pool(x, name: str):
    """2x2 max pooling with stride 2."""
    return layers.MaxPooling2D(2, strides=2, name=name)(x)


def softmax_head(x, name_prefix: str = ""):
    """1x1 convolution to the two classes and a float32 softmax (stable under mixed precision)."""
    x = layers.Conv2D(N_CLASSES, 1, kernel_initializer=KERNEL_INIT, name=f"{name_prefix}logits")(x)
    return layers.Activation("softmax", dtype="float32", name=f"{name_prefix}softmax")(x)


def channel_squeeze_excitation(x, name: str, reduction: int = 2):
    """Channel squeeze-and-excitation (cSE, Hu 2018; Roy 2018): rescale channels by learned gates.

    Global average pooling squeezes each channel to one number; two dense layers (ReLU, then
    sigmoid) turn those into per-channel weights in 0..1 that multiply the input. The reduction
    ratio 2 is Roy et al.'s choice for segmentation networks (the "cSE" block U-Net+cSE names).
    The output (a Multiply layer) is called ``name``.
    """
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = layers.Dense(max(1, channels // reduction), activation="relu",
                     kernel_initializer=KERNEL_INIT, name=f"{name}_reduce")(s)
    s = layers.Dense(channels, activation="sigmoid", kernel_initializer=KERNEL_INIT,
                     name=f"{name}_excite")(s)
    return layers.Multiply(name=name)([x, s])


def attention_gate(skip, gating, name: str, inter_channels: int | None = None):
    """Additive attention gate (Oktay 2018, "Attention U-Net"): weight a skip by a 0..1 map.

    ``skip`` is the encoder feature map, ``gating`` the decoder feature map at the same
    resolution (the upsampled coarser features). Both are projected by 1x1 convolutions to
    ``inter_channels`` (half the skip's channels by default, as Oktay et al.), added, passed
    through ReLU, a 1x1 convolution to one channel and a sigmoid; the skip is multiplied by that
    map. Oktay et al. take the gating signal from the coarser grid and resample the map; using the
    already-upsampled decoder features gives the same gate without the resampling step.
    The gated skip (a Multiply layer) is called ``name``; the map is ``name + "_alpha"``.
    """
    channels = skip.shape[-1]
    inter = inter_channels or max(1, channels // 2)
    theta = layers.Conv2D(inter, 1, kernel_initializer=KERNEL_INIT, name=f"{name}_theta_x")(skip)
    phi = layers.Conv2D(inter, 1, kernel_initializer=KERNEL_INIT, name=f"{name}_phi_g")(gating)
    f = layers.Activation("relu", name=f"{name}_relu")(layers.Add(name=f"{name}_add")([theta, phi]))
    alpha = layers.Conv2D(1, 1, activation="sigmoid", kernel_initializer=KERNEL_INIT,
                          name=f"{name}_alpha")(f)
    return layers.Multiply(name=name)([skip, alpha])


def res_block(x, filters: int, name: str):
    """LandsNet's ResBlock (Yi 2019, paper §II-G): two 3x3 convs plus a 1x1 conv on a residual path.

    main path: 3x3 conv-BN-ReLU, 3x3 conv-BN; shortcut: 1x1 conv-BN (projects the input to
    ``filters`` channels); output: ReLU(main + shortcut), a layer called ``name``. Stride and
    dilation are 1 in all three convolutions, as the paper states.
    """
    y = conv_bn_relu(x, filters, f"{name}_c1")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=KERNEL_INIT,
                      name=f"{name}_c2_conv")(y)
    y = batch_norm(f"{name}_c2_bn")(y)
    s = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer=KERNEL_INIT,
                      name=f"{name}_shortcut_conv")(x)
    s = batch_norm(f"{name}_shortcut_bn")(s)
    return layers.Activation("relu", name=name)(layers.Add(name=f"{name}_add")([y, s]))


@keras.saving.register_keras_serializable(package="glacier_utils")
class SelfAttention2D(layers.Layer):
    """Position (non-local) self-attention over all pixels of a feature map (Wang 2018; Fu 2019).

    Every pixel attends to every other: queries and keys (``channels // key_ratio`` wide) and
    values (full width) are 1x1 projections; the attention-weighted values are scaled by a learned
    ``gamma`` that starts at 0, so the block begins as the identity and learns how much global
    context to add (Fu et al.'s position attention module). Keys are scaled by 1/sqrt(d) as in
    Vaswani et al. to keep the softmax well-conditioned in float16. Memory grows with (h*w)^2, so
    SaU-Net places it at the 1/16-resolution bottleneck.
    """

    def __init__(self, key_ratio: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.key_ratio = int(key_ratio)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.key_dim = max(1, channels // self.key_ratio)
        init = keras.initializers.get(KERNEL_INIT)
        self.w_query = self.add_weight(name="w_query", shape=(channels, self.key_dim), initializer=init)
        self.w_key = self.add_weight(name="w_key", shape=(channels, self.key_dim), initializer=init)
        self.w_value = self.add_weight(name="w_value", shape=(channels, channels), initializer=init)
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros")

    def call(self, x):
        shape = ops.shape(x)
        flat = ops.reshape(x, (shape[0], -1, shape[-1]))  # (b, h*w, c)
        q = ops.matmul(flat, self.w_query)
        k = ops.matmul(flat, self.w_key)
        v = ops.matmul(flat, self.w_value)
        scale = ops.cast(1.0 / float(self.key_dim) ** 0.5, q.dtype)
        attention = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 2, 1))) * scale, axis=-1)
        context = ops.reshape(ops.matmul(attention, v), shape)
        return x + ops.cast(self.gamma, x.dtype) * context

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "key_ratio": self.key_ratio}


@keras.saving.register_keras_serializable(package="glacier_utils")
class MaxPoolingWithArgmax2D(layers.Layer):
    """2x2 max pooling that also returns where each maximum was (SegNet's pooling indices).

    Returns ``[pooled, argmax]``; ``argmax`` holds flat indices into the (batch, h, w, c) input
    (``include_batch_in_index=True``), ready for :class:`MaxUnpooling2D`. TensorFlow-only
    (``tf.nn.max_pool_with_argmax``); Keras has no backend-neutral equivalent.
    """

    def call(self, x):
        pooled, argmax = tf.nn.max_pool_with_argmax(
            x, ksize=2, strides=2, padding="SAME", include_batch_in_index=True,
        )
        return [pooled, tf.stop_gradient(argmax)]

    def compute_output_spec(self, x):
        b, h, w, c = x.shape
        half = lambda n: None if n is None else (n + 1) // 2  # noqa: E731
        shape = (b, half(h), half(w), c)
        return [keras.KerasTensor(shape, dtype=x.dtype), keras.KerasTensor(shape, dtype="int64")]


@keras.saving.register_keras_serializable(package="glacier_utils")
class MaxUnpooling2D(layers.Layer):
    """SegNet's unpooling: put each value back where its maximum came from, zeros elsewhere.

    Inputs ``[values, argmax]`` from the matching :class:`MaxPoolingWithArgmax2D`; the output is
    twice the size of ``values`` (inputs must have even sides, which the 16-multiple rule ensures).
    """

    def call(self, inputs):
        values, argmax = inputs
        shape = tf.shape(values, out_type=tf.int64)
        out_shape = tf.stack([shape[0], shape[1] * 2, shape[2] * 2, shape[3]])
        flat = tf.scatter_nd(
            tf.reshape(argmax, (-1, 1)), tf.reshape(values, (-1,)), tf.reshape(tf.reduce_prod(out_shape), (1,)),
        )
        return tf.reshape(flat, out_shape)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape[0]
        twice = lambda n: None if n is None else 2 * n  # noqa: E731
        return (b, twice(h), twice(w), c)


def model_input(n_bands: int, tile_px: int | None, name: str = "image"):
    """The network input: (tile_px, tile_px, n_bands), or (None, None, n_bands) for any size."""
    return keras.Input(shape=(tile_px, tile_px, n_bands), name=name)
