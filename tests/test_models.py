"""Structure, shapes, trainability and persistence of the seven networks (glacier_utils.models)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from glacier_utils import config
from glacier_utils.models import (
    LANDSNET_RATES,
    M_LANDSNET_RATES,
    MODEL_BUILDERS,
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    SelfAttention2D,
    build_model,
    count_params,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

BASE = 4  # smoke width: keeps every test model to ~0.1 M weights
TILE = 32


def _layer_names(model: keras.Model) -> set[str]:
    return {layer.name for layer in model.layers}


def _conv_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]


def _tiny_batch(n_bands: int, seed: int = 0, n: int = 2):
    """Random tiles whose label is a learnable function of band 0 (bright = glacier)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, TILE, TILE, n_bands), dtype=np.float32)
    y = (x[..., 0] > 0.5).astype(np.int32)
    return x, y


def test_registry_matches_config_model_names():
    assert tuple(MODEL_BUILDERS) == config.MODEL_NAMES


def test_unknown_model_name_raises_value_error_listing_the_names():
    with pytest.raises(ValueError) as err:
        build_model("segformer")
    for name in config.MODEL_NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("bad", [{"n_bands": 0}, {"base_filters": -1}, {"tile_px": 30}])
def test_bad_build_parameters_raise_value_error_naming_the_parameter(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        build_model("unet", **bad)


@pytest.mark.parametrize("name", config.MODEL_NAMES)
@pytest.mark.parametrize("n_bands", [3, 7])
def test_output_is_a_two_class_softmax_of_the_input_size_for_any_band_count(name, n_bands):
    model = build_model(name, n_bands=n_bands, base_filters=BASE)
    x, _ = _tiny_batch(n_bands)
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, TILE, TILE, 2)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)
    assert (y >= 0).all()


@pytest.mark.parametrize("name", ["unet", "m_landsnet", "glaciernet"])
def test_fully_convolutional_models_accept_other_tile_sizes(name):
    model = build_model(name, n_bands=7, base_filters=BASE)
    x = np.zeros((1, 48, 64, 7), np.float32)
    assert tuple(model(x, training=False).shape) == (1, 48, 64, 2)


def test_all_kernels_use_glorot_normal_initialisation():
    model = build_model("m_landsnet", base_filters=BASE)
    for layer in _conv_layers(model):
        assert type(layer.kernel_initializer).__name__ == "GlorotNormal", layer.name


def test_unet_has_23_conv_layers_and_4_poolings_as_in_the_paper():
    model = build_model("unet", base_filters=BASE)
    assert len(_conv_layers(model)) == 23
    assert sum(isinstance(l, keras.layers.MaxPooling2D) for l in model.layers) == 4


def _bn_conv(cin: int, cout: int, k: int = 3) -> int:
    """Weights of a bias-free k x k conv plus batch norm (gamma, beta, moving mean, variance)."""
    return k * k * cin * cout + 4 * cout


def test_unet_parameter_count_matches_a_hand_count_of_its_layers():
    f, b = BASE, 7
    expected, cin = 0, b
    for stage in range(4):  # encoder
        c = f * 2**stage
        expected += _bn_conv(cin, c) + _bn_conv(c, c)
        cin = c
    c = f * 16  # bottleneck
    expected += _bn_conv(cin, c) + _bn_conv(c, c)
    cin = c
    for stage in range(3, -1, -1):  # decoder: 2x2 transposed conv (with bias), concat, two convs
        c = f * 2**stage
        expected += 2 * 2 * cin * c + c
        expected += _bn_conv(2 * c, c) + _bn_conv(c, c)
        cin = c
    expected += cin * 2 + 2  # 1x1 head
    assert count_params("unet", config.get_profile("smoke"), n_bands=b) == expected


@pytest.mark.parametrize("name, rates", [("landsnet", LANDSNET_RATES), ("m_landsnet", M_LANDSNET_RATES)])
def test_landsnet_dilation_rates_are_the_papers(name, rates):
    model = build_model(name, base_filters=BASE)
    dilated = [l for l in model.layers if l.name.startswith("dilated_r") and isinstance(l, keras.layers.Conv2D)]
    assert tuple(l.dilation_rate[0] for l in dilated) == rates
    assert all(l.kernel_size == (3, 3) for l in dilated)


def test_dilation_rates_are_paper_values():
    assert LANDSNET_RATES == (2, 4, 6)
    assert M_LANDSNET_RATES == (1, 2, 3)


def test_landsnet_fuses_local_to_global_with_two_1x1_convs():
    model = build_model("m_landsnet", base_filters=BASE)
    fuse1, fuse2 = model.get_layer("fuse_1"), model.get_layer("fuse_2")
    # fuse_1 reads d1 and d2; fuse_2 reads fuse_1's 1x1 result and d3 (local to global)
    assert [t._keras_history.operation.name for t in fuse1.input] == ["dilated_r1_relu", "dilated_r2_relu"]
    assert [t._keras_history.operation.name for t in fuse2.input] == ["fuse_1_relu", "dilated_r3_relu"]
    assert model.get_layer("fuse_1_conv").kernel_size == (1, 1)
    assert model.get_layer("fuse_2_conv").kernel_size == (1, 1)


def test_landsnet_gates_its_three_skips_with_attention_and_uses_six_resblocks():
    model = build_model("landsnet", base_filters=BASE)
    names = _layer_names(model)
    assert {f"attention_gate_{i}" for i in (1, 2, 3)} <= names
    assert {f"resblock_{i}" for i in range(1, 7)} <= names
    for i in (1, 2, 3):
        concat_inputs = [t._keras_history.operation.name for t in model.get_layer(f"skip{i}").input]
        assert f"attention_gate_{i}" in concat_inputs
    assert sum(isinstance(l, keras.layers.MaxPooling2D) for l in model.layers) == 3


def test_unet_cse_has_a_squeeze_excitation_block_after_each_decoder_stage():
    model = build_model("unet_cse", base_filters=BASE)
    for stage in (1, 2, 3, 4):
        layer = model.get_layer(f"cse_{stage}")
        assert isinstance(layer, keras.layers.Multiply)
        assert isinstance(model.get_layer(f"cse_{stage}_squeeze"), keras.layers.GlobalAveragePooling2D)
    assert "cse_1" not in _layer_names(build_model("unet", base_filters=BASE))


def test_unetpp_has_all_nested_nodes_with_dense_skips():
    model = build_model("unetpp", base_filters=BASE)
    names = _layer_names(model)
    nodes = {f"x{i}{j}" for j in range(5) for i in range(5 - j)}
    assert len(nodes) == 15 and nodes <= names
    # X^{0,3} concatenates X^{0,0}, X^{0,1}, X^{0,2} and the upsampled X^{1,2}
    cat_inputs = [t._keras_history.operation.name for t in model.get_layer("cat_x03").input]
    assert cat_inputs == ["x00", "x01", "x02", "up_x12"]


def test_saunet_has_a_self_attention_layer_at_the_bottleneck():
    model = build_model("saunet", base_filters=BASE, tile_px=TILE)
    layer = model.get_layer("self_attention")
    assert isinstance(layer, SelfAttention2D)
    assert layer.output.shape[1:3] == (TILE // 16, TILE // 16)


def test_self_attention_starts_as_identity():
    layer = SelfAttention2D()
    x = np.random.default_rng(1).random((1, 4, 4, 16), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(layer(x)), x, atol=1e-6)


def test_glaciernet_unpools_with_max_pooling_indices_and_has_no_skip_concatenation():
    model = build_model("glaciernet", base_filters=BASE)
    assert sum(isinstance(l, MaxPoolingWithArgmax2D) for l in model.layers) == 4
    assert sum(isinstance(l, MaxUnpooling2D) for l in model.layers) == 4
    assert not any(isinstance(l, keras.layers.Concatenate) for l in model.layers)


def test_max_unpooling_puts_each_maximum_back_where_it_was():
    x = np.zeros((1, 4, 4, 1), np.float32)
    x[0, 1, 0, 0], x[0, 2, 3, 0], x[0, 0, 3, 0] = 5.0, 7.0, -1.0
    pooled, argmax = MaxPoolingWithArgmax2D()(x)
    restored = np.asarray(MaxUnpooling2D()([pooled, argmax]))
    expected = np.zeros_like(x)
    expected[0, 1, 0, 0], expected[0, 2, 3, 0] = 5.0, 7.0  # the -1 block's max is one of its zeros
    np.testing.assert_array_equal(restored, expected)


@pytest.mark.parametrize("name", config.MODEL_NAMES)
def test_training_lowers_the_loss_and_the_model_reloads_with_identical_predictions(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = build_model(name, n_bands=7, tile_px=TILE, base_filters=BASE)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", jit_compile=False)
    x, y = _tiny_batch(7, n=4)
    losses = [float(model.train_on_batch(x, y)) for _ in range(5)]
    assert losses[-1] < losses[0], losses

    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        np.asarray(reloaded(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6,
    )


def test_count_params_grows_with_the_width_multiplier():
    assert count_params("m_landsnet", "quick") > count_params("m_landsnet", "smoke")


def test_every_network_normalises_batches_with_the_shared_momentum():
    from glacier_utils.models.blocks import BN_MOMENTUM

    for name in config.MODEL_NAMES:
        norms = [layer for layer in build_model(name, n_bands=7, base_filters=2).layers
                 if isinstance(layer, keras.layers.BatchNormalization)]
        assert norms, name
        assert {layer.momentum for layer in norms} == {BN_MOMENTUM}, name
