"""Architecture diagrams are read off the Keras graphs (book/networks.md shows them)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from glacier_utils import config
from tools import diagrams  # noqa: E402
from glacier_utils.models import build_model  # noqa: E402


@pytest.fixture(scope="module")
def unet_graph():
    return diagrams.layer_graph(build_model("unet", n_bands=7, tile_px=64, base_filters=4))


def test_unet_graph_has_four_poolings_four_upsamplings_and_four_skips(unet_graph):
    nodes = unet_graph.nodes.set_index("name")
    kinds = nodes.kind.value_counts()
    assert kinds["pooling"] == 4 and kinds["upsampling"] == 4 and kinds["merge (concatenate, add)"] == 4
    assert sorted(nodes.level.unique()) == [0, 1, 2, 3, 4]  # full resolution down to 1/16
    long_skips = [(a, b) for a, b in unet_graph.edges
                  if nodes.loc[b].x - nodes.loc[a].x > 1 and nodes.loc[a].level == nodes.loc[b].level]
    assert len(long_skips) == 4


def test_batch_norm_and_activations_are_folded_into_their_convolution(unet_graph):
    names = set(unet_graph.nodes.name)
    assert not any(name.endswith("_bn") for name in names)
    assert all(a in names and b in names for a, b in unet_graph.edges)
    assert unet_graph.nodes.kind.iloc[0] == "input" and unet_graph.nodes.kind.iloc[-1] == "output (softmax)"


def test_squeeze_excitation_weights_sit_at_the_level_of_the_map_they_weigh():
    graph = diagrams.layer_graph(build_model("unet_cse", n_bands=7, tile_px=64, base_filters=4))
    assert graph.nodes.level.max() == 4  # nothing drawn below the 1/16 bottleneck


def test_a_model_without_a_fixed_tile_size_cannot_be_drawn():
    with pytest.raises(ValueError, match="tile_px"):
        diagrams.layer_graph(build_model("unet", n_bands=7, base_filters=4))


def test_every_network_is_written_as_a_figure(tmp_path):
    paths = diagrams.write_architecture_figures(tmp_path)
    assert [p.stem for p in paths] == list(config.MODEL_NAMES)
    assert all(p.stat().st_size > 10_000 for p in paths)
    assert not list(tmp_path.glob("*.tmp*"))


def test_the_networks_chapter_shows_every_diagram():
    text = (config.PROJECT_ROOT / "book" / "networks.md").read_text()
    shown = {name for name in config.MODEL_NAMES if f"figures/networks/{name}.png" in text}
    assert shown == set(config.MODEL_NAMES) - {"landsnet"}  # LandsNet's graph is M-LandsNet's


def test_the_networks_chapter_quotes_the_parameter_counts_the_code_has():
    import re

    from glacier_utils.models import parameter_table

    text = (config.PROJECT_ROOT / "book" / "networks.md").read_text()
    quoted = {label: (int(paper.replace(",", "")), int(quick.replace(",", "")))
              for label, paper, quick in re.findall(r"^\| ([^|]+?) \| ([\d,]+) \| ([\d,]+) \|$", text, re.M)}
    assert set(quoted) == set(config.METHOD_LABELS[m] for m in config.MODEL_NAMES)
    for profile, column in (("paper", 0), ("quick", 1)):
        table = parameter_table(profile).set_index("label")["parameters"]
        assert {label: counts[column] for label, counts in quoted.items()} == table.to_dict(), profile
