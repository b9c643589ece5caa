"""Architecture diagrams drawn from the Keras graph of each network (the book's methods chapter).

Each diagram is read off the built model, so it cannot drift from the code: one mark per operation
(batch normalisation and activations are folded into the layer they follow), placed left to right in
the order the graph computes them and up and down by spatial resolution, with long connections
(U-Net skips, residual shortcuts, attention gates) drawn as arcs. Drawn with matplotlib rather than
``keras.utils.plot_model``: that needs the Graphviz binary, which a fresh machine does not have, and
draws one box per layer (hundreds of boxes for U-Net++) with no sense of resolution.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from glacier_utils import config
from glacier_utils._atomic import atomic_path
from glacier_utils.models import build_model

#: Layers folded into the mark of the layer they follow.
FOLDED = {"BatchNormalization", "Activation", "ReLU", "Dropout", "SpatialDropout2D"}
#: Colours of the kinds of operation, in legend order.
KIND_COLOURS = {
    "input": "#444444",
    "3×3 convolution": "#4c78a8",
    "dilated convolution": "#72b7b2",
    "1×1 convolution": "#9ecae9",
    "pooling": "#e45756",
    "upsampling": "#54a24b",
    "merge (concatenate, add)": "#f2cf5b",
    "attention (gate, weights)": "#b279a2",
    "output (softmax)": "#222222",
}


@dataclasses.dataclass(frozen=True)
class LayerGraph:
    """The operations of a network (one row each) and the edges between them, with folded layers resolved."""

    nodes: pd.DataFrame  # name, kind, level (halvings of the input size), channels, x (order)
    edges: list[tuple[str, str]]


def _kind(layer) -> str:
    """The kind of operation a Keras layer performs, as shown in the legend."""
    cls = type(layer).__name__
    if cls == "InputLayer":
        return "input"
    if cls == "Conv2D":
        if layer.kernel_size == (1, 1):
            return "1×1 convolution"
        return "dilated convolution" if max(layer.dilation_rate) > 1 else "3×3 convolution"
    if "Pool" in cls and "Global" not in cls:
        return "pooling"
    if cls in {"Conv2DTranspose", "UpSampling2D", "MaxUnpooling2D"}:
        return "upsampling"
    if cls in {"Concatenate", "Add"}:
        return "merge (concatenate, add)"
    if cls in {"Softmax", "Activation"}:  # the only activation not folded away is the softmax head
        return "output (softmax)"
    return "attention (gate, weights)"  # Multiply, SelfAttention2D, GlobalAveragePooling2D, Dense, Reshape


def _parents(layer) -> list[str]:
    return [parent.operation.name for node in layer._inbound_nodes for parent in node.parent_nodes]


def layer_graph(model) -> LayerGraph:
    """The operations of a functional Keras model, BN/activations folded, with their resolution level."""
    size = model.inputs[0].shape[1]
    if size is None:
        raise ValueError("build the model with a fixed tile size (tile_px) to draw it")
    alias: dict[str, str] = {}  # folded layer -> the kept layer it stands for
    rows, edges = [], []
    for layer in model.layers:
        parents = [alias.get(p, p) for p in _parents(layer)]
        cls = type(layer).__name__
        if cls in FOLDED and len(parents) == 1 and not (cls == "Activation" and layer.get_config().get("activation") == "softmax"):
            alias[layer.name] = parents[0]
            continue
        output = layer.output[0] if isinstance(layer.output, (list, tuple)) else layer.output  # pooling with argmax
        shape = output.shape
        # Global (1 × 1 or flat) outputs, like squeeze-excitation weights, get their map's level below.
        level = math.log2(size / shape[1]) if len(shape) == 4 and shape[1] and shape[1] > 1 else None
        rows.append({"name": layer.name, "kind": _kind(layer),
                     "level": level, "channels": shape[-1]})
        edges += [(p, layer.name) for p in dict.fromkeys(parents)]
    nodes = pd.DataFrame(rows)
    # Vector-valued attention weights (channel squeeze-excitation) sit at the level of the map they weigh.
    nodes["level"] = nodes["level"].ffill().fillna(0.0)
    nodes["x"] = np.arange(len(nodes))
    return LayerGraph(nodes, edges)


def draw_architecture(name: str, ax=None, tile_px: int = 64, n_bands: int = config.N_BANDS):
    """Draw one network of the registry (structure only: widths do not change the drawing); returns the Figure."""
    graph = layer_graph(build_model(name, n_bands=n_bands, tile_px=tile_px, base_filters=4))
    nodes = graph.nodes.set_index("name")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(8.0, 0.16 * len(nodes)), 2.6))
    longest = max(1, max(nodes.loc[b].x - nodes.loc[a].x for a, b in graph.edges))
    for parent, child in graph.edges:
        a, b = nodes.loc[parent], nodes.loc[child]
        span = b.x - a.x
        if span <= 1 or a.level != b.level:
            ax.plot([a.x, b.x], [-a.level, -b.level], color="#bbbbbb", lw=0.8, zorder=1)
        else:  # a long connection at one resolution: an arc above the level's line, higher the longer it is
            t = np.linspace(0.0, 1.0, 40)
            height = 0.12 + 0.6 * span / longest
            ax.plot(a.x + span * t, -a.level + 4 * height * t * (1 - t), color="#999999", lw=0.8, zorder=1)
    for kind, colour in KIND_COLOURS.items():
        group = nodes[nodes.kind == kind]
        if len(group):
            ax.scatter(group.x, -group.level, s=36, marker="s", color=colour, edgecolor="white", linewidth=0.4,
                       label=kind, zorder=2)
    levels = sorted(nodes.level.unique())
    ax.set_yticks([-lv for lv in levels], [f"1/{2 ** int(lv)}" if lv else "full" for lv in levels], fontsize=7)
    ax.set_ylim(-max(levels) - 0.4, 0.85)
    ax.set_xticks([])
    ax.set_ylabel("resolution", fontsize=8)
    ax.set_title(f"{config.METHOD_LABELS[name]}: {len(nodes)} operations, drawn from the Keras graph", fontsize=9)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return ax.figure


def write_architecture_figures(folder: Path) -> list[Path]:
    """Write one PNG per network of the registry into ``folder`` (the book's staging tree); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in config.MODEL_NAMES:
        figure = draw_architecture(name)
        path = folder / f"{name}.png"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=130, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    return paths
