"""Fast whole-curve queries of a fitted XGBoost booster, identical to XGBoost's own predictions.

A simulated run asks the surrogate for one learning curve per trial: ``max_epochs`` rows that
share every feature except the last one (the epoch). XGBoost's ``inplace_predict`` costs 0.3-0.7 ms
per call whatever the row count (its fixed per-call cost dominates), which made one run of a
model-free method (hundreds of trials) take about a second. :class:`CurveForest` holds the
booster's trees as one packed array and walks each tree once per curve, carrying the *range* of
epochs that reach a node: the epochs are sorted, so a split on the epoch cuts the range in two and
every other split sends the whole range one way. The walk is compiled by numba (cached on disk).

It reproduces XGBoost's predictions bit for bit: features and thresholds in float32,
``x < threshold`` goes left (a missing value follows the node's default direction), a categorical
split sends the categories stored in the node to the right, and every row sums ``base_score`` and
then its leaf values tree by tree in float32, in the booster's tree order. ``tests/test_forest.py``
checks the equality.
"""

from __future__ import annotations

import json

import numba
import numpy as np
import xgboost as xgb

MAX_CATEGORY = 63  # a categorical split keeps its categories as a 64-bit mask
# a node is one row of four int32: left child (right = left + 1, as XGBoost allocates them; -1 for
# a leaf), feature index and flags, threshold (or leaf value) as float32 bits, category mask index
_LEFT, _INFO, _THRESHOLD, _CATEGORIES = 0, 1, 2, 3
_FEATURE_BITS, _CATEGORICAL, _DEFAULT_LEFT = 0xFFFF, 1 << 16, 1 << 17


class ForestError(ValueError):
    """A booster this module cannot represent (another booster type or a category above 63)."""


@numba.njit(cache=True, nogil=True)
def _walk_curve(
    hp: np.ndarray,
    epochs: np.ndarray,
    roots: np.ndarray,
    nodes: np.ndarray,
    nodes_f32: np.ndarray,
    cat_masks: np.ndarray,
    group: np.ndarray,
    base: np.ndarray,
    epoch_feature: int,
    stack_size: int,
) -> np.ndarray:
    n = epochs.shape[0]
    for r in range(1, n):
        if epochs[r] < epochs[r - 1]:
            raise ValueError("epochs must be ascending")
    out = np.empty((n, base.shape[0]), dtype=np.float32)
    for r in range(n):
        out[r, :] = base
    stack = np.empty((stack_size, 3), dtype=np.int64)  # (node, lo, hi) still to walk
    for t in range(roots.shape[0]):
        g = group[t]
        node, lo, hi, top = roots[t], 0, n, 0
        while True:
            left = nodes[node, _LEFT]
            if left < 0:  # a leaf: its value is stored where a split keeps its threshold
                leaf = nodes_f32[node, _THRESHOLD]
                for r in range(lo, hi):
                    out[r, g] += leaf
                if top == 0:
                    break
                top -= 1
                node, lo, hi = stack[top, 0], stack[top, 1], stack[top, 2]
                continue
            info = nodes[node, _INFO]
            feature = info & _FEATURE_BITS
            threshold = nodes_f32[node, _THRESHOLD]
            if feature == epoch_feature:  # epochs[lo:k] go left, epochs[k:hi] right
                k = lo
                while k < hi and epochs[k] < threshold:
                    k += 1
                if k == lo:
                    node = left + 1
                elif k == hi:
                    node = left
                else:
                    stack[top, 0], stack[top, 1], stack[top, 2] = left + 1, k, hi
                    top += 1
                    node, hi = left, k
                continue
            v = hp[feature]
            if np.isnan(v):
                go_left = info & _DEFAULT_LEFT != 0
            elif info & _CATEGORICAL:
                c = np.int64(v)
                mask = cat_masks[nodes[node, _CATEGORIES]]
                go_left = not (0 <= c <= MAX_CATEGORY and (mask >> np.uint64(c)) & np.uint64(1))
            else:
                go_left = v < threshold
            node = left if go_left else left + 1
    return out


class CurveForest:
    """A booster's trees as flat arrays; :meth:`curve` predicts one configuration at many epochs."""

    def __init__(self, booster: xgb.Booster) -> None:
        model = json.loads(bytes(booster.save_raw("json")))["learner"]
        params = model["learner_model_param"]
        gbtree = model["gradient_booster"]
        if gbtree.get("name") != "gbtree":
            raise ForestError(f"only gbtree boosters are supported, not {gbtree.get('name')!r}")
        base = json.loads(params["base_score"]) if params["base_score"].startswith("[") else [
            float(params["base_score"])
        ]
        self.n_outputs = max(int(params.get("num_target", 1)), int(params.get("num_class", 0)), 1)
        self.base = np.broadcast_to(np.asarray(base, dtype=np.float32), (self.n_outputs,)).copy()
        self.n_features = int(params["num_feature"])
        trees = gbtree["model"]["trees"]
        self.group = np.asarray(gbtree["model"]["tree_info"], dtype=np.int64)
        sizes = [len(tree["left_children"]) for tree in trees]
        self.roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.nodes, self.cat_masks = self._pack(trees, self.roots)
        self.nodes_f32 = self.nodes.view(np.float32)
        self.stack_size = max(sizes) + 1  # a pending range per epoch split on the path

    @staticmethod
    def _pack(trees: list[dict], roots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every tree's nodes as rows of four int32 (see ``_LEFT`` ...) and the category masks."""

        def column(key: str, dtype: type) -> np.ndarray:
            return np.concatenate([np.asarray(tree[key], dtype=dtype) for tree in trees])

        left, right = column("left_children", np.int64), column("right_children", np.int64)
        offsets = np.repeat(roots, [len(tree["left_children"]) for tree in trees])
        split = left >= 0
        if not np.array_equal(right[split], left[split] + 1):
            raise ForestError("a tree whose right children do not follow their left siblings")
        feature = column("split_indices", np.int64)
        if feature.max(initial=0) > _FEATURE_BITS:
            raise ForestError(f"more than {_FEATURE_BITS} features")
        info = (
            feature
            | np.where(column("split_type", np.int64) == 1, _CATEGORICAL, 0)
            | np.where(column("default_left", np.int64) == 1, _DEFAULT_LEFT, 0)
        )
        nodes = np.zeros((len(left), 4), dtype=np.int32)
        nodes[:, _LEFT] = np.where(split, left + offsets, -1)
        nodes[:, _INFO] = info
        nodes[:, _THRESHOLD] = column("split_conditions", np.float32).view(np.int32)
        masks = [0]
        for tree, offset in zip(trees, roots, strict=True):
            cats = tree.get("categories", [])
            for node, start, size in zip(
                tree.get("categories_nodes", []),
                tree.get("categories_segments", []),
                tree.get("categories_sizes", []),
                strict=True,
            ):
                mask = 0
                for category in cats[start : start + size]:
                    if not 0 <= category <= MAX_CATEGORY:
                        raise ForestError(f"category code {category} above {MAX_CATEGORY}")
                    mask |= 1 << category
                nodes[offset + node, _CATEGORIES] = len(masks)
                masks.append(mask)
        return nodes, np.array(masks, dtype=np.uint64)

    def curve(self, features: np.ndarray, epochs: np.ndarray) -> np.ndarray:
        """Predictions (len(epochs), outputs) for rows = ``features`` with the last one = epoch.

        ``features`` holds every feature but the last (the epoch); ``epochs`` must be ascending.
        """
        hp = np.empty(self.n_features, dtype=np.float32)
        hp[:-1] = features
        hp[-1] = np.nan
        epochs = np.ascontiguousarray(epochs, dtype=np.float32)
        return _walk_curve(
            hp, epochs, self.roots, self.nodes, self.nodes_f32, self.cat_masks, self.group,
            self.base, self.n_features - 1, self.stack_size,
        )
