"""A fitted XGBoost surrogate of a table: features, target transforms, loading with checks, queries.

A surrogate folder holds

- ``model.ubj``: ONE multi-output XGBoost booster (XGBoost's UBJSON format). Its rows are
  (configuration, epoch); its outputs are, in order, every metric of the table (``val_error``,
  ``train_loss``, ...), the per-configuration metrics (``peak_memory_mb``, ``latency_ms``; where
  the table or its timing table records them) and ``epoch_time``, each transformed and
  standardised (see below). A
  learning curve is one walk of its trees by :class:`~surrogates.forest.CurveForest` (the same
  numbers as XGBoost's ``inplace_predict``, about ten times faster for one curve); many curves at
  once go through XGBoost itself.
- ``surrogate.json``: the manifest: the table it was fitted to (name, sha256 checksum, search space,
  max_epochs, metrics, observed ranges), the feature schema (names, order, domains, transforms,
  categories), the target transforms, the noise model, the XGBoost settings and versions, and the
  sha256 of ``model.ubj``.

Features: every hyperparameter on the scale of its domain (``log`` for log domains, the category
index as a native XGBoost categorical feature for ``choice``), then the derived SGD features of
:data:`DERIVED_FEATURES` whose hyperparameters the space has (e.g. the effective step
``log(learning_rate) - log(1 - momentum)``; constant along a curve), then ``epoch`` (always last).

Targets: a metric ``y`` with observed range [lo, hi] is modelled as
``logit((y - lo + m) / (hi - lo + 2m))`` with a margin ``m``; the inverse maps any prediction
back into (lo - m, hi + m) and is then clipped to [lo, hi], so predictions never leave the observed
range, however far a configuration lies from the table. Epoch time is modelled as
``log(epoch_time)`` per epoch (an increment model; trained on each curve's mean log time, since
epochs of one curve differ only by machine load; with a timing table, on the configurations it
times, see :mod:`surrogates.timing`) and clipped to the observed [min, max] > 0, so
cumulative time is strictly increasing along every curve. A per-configuration metric (the
manifest's ``config_metrics``) is modelled like epoch time, on the log scale from each
configuration's mean log value, and is constant along a predicted curve: the mean over epochs of
the model-scale prediction (plus its noise, a per-curve offset), as the real objective measures it
once per trial.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.special import expit

from hpo_methods.space import Choice, Config, SearchSpace
from surrogates.forest import CurveForest
from surrogates.noise import NoiseModel
from surrogates.table import METRIC_DOMAINS, Table, file_sha256

MANIFEST_FILE = "surrogate.json"
MODEL_FILE = "model.ubj"
FORMAT_VERSION = 1
EPOCH_FEATURE = "epoch"
TIME_TARGET = "epoch_time"
LOG_KINDS = ("loguniform", "lograndint", "logfinrange")


class SurrogateError(ValueError):
    """A surrogate folder that cannot be used (missing, corrupt, or fitted to another table)."""


# -- features -----------------------------------------------------------------------------------


# Derived features from SGD knowledge, each a sum of ``coefficient * f(hyperparameter)`` with
# f = ``log`` or ``log1m`` (log(1 - x)). Trees split one feature at a time, so an interaction such
# as the effective step size lr / (1 - momentum) costs many splits on the raw features; given
# directly it costs one (grouped CV on the shipped table: final R^2 0.856 -> 0.896, rho
# 0.913 -> 0.930). A feature is used when every hyperparameter it names is a numeric domain of the
# space whose values keep f finite; it is constant along a learning curve. Its hyperparameters are
# clipped into their domains first, so a configuration far outside them still gets finite features.
DERIVED_FEATURES: dict[str, tuple[tuple[str, float, str], ...]] = {
    "log_eff_lr": (("learning_rate", 1.0, "log"), ("momentum", -1.0, "log1m")),
    "log_lr_per_bs": (("learning_rate", 1.0, "log"), ("batch_size", -1.0, "log")),
    "log_eff_lr_per_bs": (
        ("learning_rate", 1.0, "log"), ("momentum", -1.0, "log1m"), ("batch_size", -1.0, "log"),
    ),
    "log_lr_wd": (("learning_rate", 1.0, "log"), ("weight_decay", 1.0, "log")),
    "log_eff_lr_wd": (
        ("learning_rate", 1.0, "log"), ("momentum", -1.0, "log1m"), ("weight_decay", 1.0, "log"),
    ),
}


def _derived_applies(space: SearchSpace, terms: tuple[tuple[str, float, str], ...]) -> bool:
    domains = {d.name: d for d in space.domains}
    for name, _, f in terms:
        d = domains.get(name)
        if d is None or isinstance(d, Choice):
            return False
        low, high = getattr(d, "low", None), getattr(d, "high", None)
        if low is None or high is None:
            return False
        if (f == "log" and not low > 0) or (f == "log1m" and not high < 1):
            return False
    return True


def _formula(terms: tuple[tuple[str, float, str], ...]) -> str:
    parts = []
    for name, coef, f in terms:
        arg = f"log({name})" if f == "log" else f"log(1 - {name})"
        sign = "-" if coef < 0 else "+"
        mag = "" if abs(coef) == 1 else f"{abs(coef):g} * "
        parts.append(f"{sign} {mag}{arg}")
    return " ".join(parts).lstrip("+ ")


class FeatureEncoder:
    """Maps configurations (and epochs) to the model's feature rows.

    Columns: the hyperparameters (space order), the derived features that apply (see
    :data:`DERIVED_FEATURES`), then ``epoch``, always last; all but ``epoch`` are constant along
    a curve.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        if EPOCH_FEATURE in space.names:
            raise SurrogateError(f"a hyperparameter may not be named '{EPOCH_FEATURE}'")
        self.transforms: list[str] = []
        self.codes: dict[str, dict[Any, int]] = {}
        for d in space.domains:
            if isinstance(d, Choice):
                self.transforms.append("category")
                self.codes[d.name] = {c: i for i, c in enumerate(d.categories)}
            else:
                self.transforms.append("log" if d.kind in LOG_KINDS else "identity")
        self.derived: dict[str, tuple[tuple[str, float, str], ...]] = {
            name: terms for name, terms in DERIVED_FEATURES.items()
            if name not in space.names and _derived_applies(space, terms)
        }
        self._bounds = {
            d.name: (float(d.low), float(d.high)) for d in space.domains
            if any(d.name == term[0] for terms in self.derived.values() for term in terms)
        }

    @property
    def names(self) -> list[str]:
        return [*self.space.names, *self.derived, EPOCH_FEATURE]

    @property
    def types(self) -> list[str]:
        return ["c" if t == "category" else "q" for t in self.transforms] + ["q"] * (
            len(self.derived) + 1
        )

    def schema(self) -> list[dict[str, Any]]:
        """The feature schema stored in the manifest: names, order, domains, transforms."""
        rows = [
            {"name": d.name, "domain": d.spec(), "transform": t}
            for d, t in zip(self.space.domains, self.transforms, strict=True)
        ]
        rows += [
            {"name": name, "transform": "derived", "formula": _formula(terms)}
            for name, terms in self.derived.items()
        ]
        return [*rows, {"name": EPOCH_FEATURE, "transform": "identity"}]

    def encode_config(self, config: Mapping[str, Any]) -> np.ndarray:
        """The hyperparameter part of a feature row (no epoch), derived features included."""
        out = np.empty(len(self.transforms) + len(self.derived))
        for i, (name, t) in enumerate(zip(self.space.names, self.transforms, strict=True)):
            value = config[name]
            if t == "category":
                if value not in self.codes[name]:
                    raise SurrogateError(
                        f"hyperparameter '{name}': {value!r} is not one of "
                        f"{list(self.codes[name])}"
                    )
                out[i] = self.codes[name][value]
            elif t == "log":
                out[i] = math.log(value)
            else:
                out[i] = float(value)
        for i, terms in enumerate(self.derived.values(), start=len(self.transforms)):
            total = 0.0
            for name, coef, f in terms:
                lo, hi = self._bounds[name]
                v = min(max(float(config[name]), lo), hi)
                total += coef * (math.log(v) if f == "log" else math.log1p(-v))
            out[i] = total
        return out

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature rows for a frame with the hyperparameter columns and ``epoch``."""
        columns = []
        for name, t in zip(self.space.names, self.transforms, strict=True):
            col = frame[name]
            if t == "category":
                codes = col.map(self.codes[name])
                if codes.isna().any():
                    bad = col[codes.isna()].iloc[0]
                    raise SurrogateError(f"hyperparameter '{name}': unknown category {bad!r}")
                columns.append(codes.to_numpy(dtype=float))
            elif t == "log":
                columns.append(np.log(col.to_numpy(dtype=float)))
            else:
                columns.append(col.to_numpy(dtype=float))
        for terms in self.derived.values():
            total = np.zeros(len(frame))
            for name, coef, f in terms:
                v = np.clip(frame[name].to_numpy(dtype=float), *self._bounds[name])
                total += coef * (np.log(v) if f == "log" else np.log1p(-v))
            columns.append(total)
        columns.append(frame[EPOCH_FEATURE].to_numpy(dtype=float))
        return np.ascontiguousarray(np.column_stack(columns))

    def curve_rows(self, config: Mapping[str, Any], max_epochs: int) -> np.ndarray:
        """One feature row per epoch 1..max_epochs for one configuration."""
        x = np.empty((max_epochs, len(self.names)))
        x[:, :-1] = self.encode_config(config)
        x[:, -1] = np.arange(1, max_epochs + 1)
        return x


# -- target transforms --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One model output: how its values are transformed, standardised, and bounded."""

    name: str
    kind: str  # "range_logit" (metrics) or "log" (epoch time)
    lo: float
    hi: float
    margin: float = 0.0
    center: float = 0.0
    scale: float = 1.0

    @classmethod
    def fitted(cls, name: str, values: np.ndarray, kind: str, margin_share: float = 0.05) -> Target:
        """Bounds from the finite observed values; center/scale from the transformed values."""
        finite = values[np.isfinite(values)]
        if not len(finite):
            raise SurrogateError(f"target '{name}' has no finite values")
        lo, hi = float(finite.min()), float(finite.max())
        margin = margin_share * max(hi - lo, 1e-6) if kind == "range_logit" else 0.0
        target = cls(name, kind, lo, hi, margin)
        z = target.forward(values)
        return cls(name, kind, lo, hi, margin, float(z.mean()), float(max(z.std(), 1e-6)))

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Observed values to the unstandardised model scale (non-finite values count as hi)."""
        y = np.where(np.isfinite(y), y, self.hi).astype(float)
        y = np.clip(y, self.lo, self.hi)
        if self.kind == "log":
            return np.log(y)
        p = (y - self.lo + self.margin) / (self.hi - self.lo + 2 * self.margin)
        return np.log(p) - np.log1p(-p)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Model scale back to observed units, always inside [lo, hi]."""
        if self.kind == "log":
            y = np.exp(z)
        else:
            p = expit(z)
            y = self.lo - self.margin + p * (self.hi - self.lo + 2 * self.margin)
        return np.clip(y, self.lo, self.hi)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- the model ----------------------------------------------------------------------------------


class SurrogateModel:
    """A fitted surrogate: query whole learning curves, mean or noisy."""

    def __init__(
        self,
        booster: xgb.Booster,
        manifest: dict[str, Any],
        folder: Path | None = None,
    ) -> None:
        self.booster = booster
        self.booster.set_param({"nthread": 1})  # per-call overhead dominates; threads only cost
        self.manifest = manifest
        self.folder = folder
        self.space = SearchSpace.from_spec(manifest["table"]["search_space"])
        self.encoder = FeatureEncoder(self.space)
        self.max_epochs = int(manifest["table"]["max_epochs"])
        self.metric = str(manifest["table"]["metric"])
        self.targets = [Target(**t) for t in manifest["targets"]]
        self.metric_names = tuple(t.name for t in self.targets if t.name != TIME_TARGET)
        per_config = manifest.get("config_metrics", {})
        self.config_metrics = tuple(t.name for t in self.targets if t.name in per_config)
        self._per_config = np.array([t.name in per_config for t in self.targets])
        self.noise = NoiseModel.from_json(manifest["noise"])
        covariate = self.noise.metric.covariate if self.noise.metric is not None else None
        self._noise_feature = self.encoder.names.index(covariate) if covariate else None
        self._noise_metric = (
            [t.name for t in self.targets].index(self.noise.metric.metric)
            if self.noise.metric is not None else None
        )
        # a noisy value may leave the observed range (the table's extremes are noisy values
        # themselves), not the metric's domain
        self._noisy_domain = METRIC_DOMAINS.get(
            self.noise.metric.metric if self.noise.metric is not None else self.metric,
            (-math.inf, math.inf),
        )
        self._center = np.array([t.center for t in self.targets])
        self._scale = np.array([t.scale for t in self.targets])
        self._epochs = np.arange(1, self.max_epochs + 1, dtype=float)
        self._is_log = np.array([t.kind == "log" for t in self.targets])
        self._lo = np.array([t.lo for t in self.targets])
        self._hi = np.array([t.hi for t in self.targets])
        self._base = np.array([t.lo - t.margin for t in self.targets])
        self._width = np.array([t.hi - t.lo + 2 * t.margin for t in self.targets])

    # -- persistence --

    @classmethod
    def load(cls, folder: str | Path, table: Table | None = None) -> SurrogateModel:
        """Load a surrogate folder; check its model file, its schema and (given) its table."""
        folder = Path(folder)
        manifest_path = folder / MANIFEST_FILE
        if not manifest_path.is_file():
            raise SurrogateError(
                f"{folder}: not a surrogate folder (no {MANIFEST_FILE}); fit one with "
                f"'python -m surrogates.fit TABLE_DIR --out {folder}'"
            )
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as err:
            raise SurrogateError(f"{manifest_path}: not valid JSON ({err})") from err
        if manifest.get("format_version") != FORMAT_VERSION:
            raise SurrogateError(
                f"{manifest_path}: format_version {manifest.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}; refit the surrogate"
            )
        model_path = folder / manifest.get("model_file", MODEL_FILE)
        if not model_path.is_file():
            raise SurrogateError(f"{model_path}: missing model file")
        digest = file_sha256(model_path)
        if digest != manifest.get("model_sha256"):
            raise SurrogateError(
                f"{model_path}: sha256 {digest[:12]}... does not match the manifest's "
                f"{str(manifest.get('model_sha256'))[:12]}...; the model file was replaced"
            )
        booster = xgb.Booster()
        try:
            booster.load_model(str(model_path))
        except xgb.core.XGBoostError as err:
            raise SurrogateError(f"{model_path}: not a loadable XGBoost model ({err})") from err
        model = cls(booster, manifest, folder)
        model.check_schema()
        if table is not None:
            model.check_table(table)
        return model

    def save(self, folder: str | Path) -> None:
        """Write ``model.ubj`` and the manifest (with the model's sha256) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        raw = bytes(self.booster.save_raw("ubj"))
        (folder / MODEL_FILE).write_bytes(raw)
        self.manifest["model_file"] = MODEL_FILE
        self.manifest["model_sha256"] = hashlib.sha256(raw).hexdigest()
        text = json.dumps(self.manifest, indent=2, sort_keys=True) + "\n"
        (folder / MANIFEST_FILE).write_text(text)
        self.folder = folder

    # -- checks --

    def check_schema(self) -> None:
        """The booster's features and outputs must be the ones the manifest describes."""
        where = self.folder or "surrogate"
        schema = self.manifest["features"]
        expected = self.encoder.schema()
        if schema != expected:
            raise SurrogateError(
                f"{where}: feature schema in the manifest does not match its search space "
                f"({[f['name'] for f in schema]} vs {[f['name'] for f in expected]})"
            )
        names = self.booster.feature_names
        if names != self.encoder.names:
            raise SurrogateError(
                f"{where}: the model's features {names} are not the schema's {self.encoder.names}"
            )
        if self.booster.feature_types != self.encoder.types:
            raise SurrogateError(
                f"{where}: the model's feature types {self.booster.feature_types} are not the "
                f"schema's {self.encoder.types}"
            )
        unknown = [n for n in self.manifest.get("config_metrics", {}) if n not in self.target_names]
        if unknown:
            raise SurrogateError(f"{where}: config metrics {unknown} are not outputs of the model")
        config = json.loads(self.booster.save_config())
        n_out = int(config["learner"]["learner_model_param"].get("num_target", 1))
        if n_out != len(self.targets):
            raise SurrogateError(
                f"{where}: the model has {n_out} outputs, the manifest names "
                f"{len(self.targets)} targets"
            )

    def check_table(self, table: Table) -> None:
        """Refuse a table other than the one this surrogate was fitted to."""
        where = self.folder or "surrogate"
        info = self.manifest["table"]
        if SearchSpace.from_spec(table.meta["search_space"]).spec() != self.space.spec():
            raise SurrogateError(
                f"{where}: fitted to the search space {self.space.spec()}, but table "
                f"{table.path} has {table.meta['search_space']}"
            )
        if table.max_epochs != self.max_epochs:
            raise SurrogateError(
                f"{where}: fitted to max_epochs {self.max_epochs}, table {table.path} has "
                f"{table.max_epochs}"
            )
        if table.checksum != info["sha256"]:
            raise SurrogateError(
                f"{where}: fitted to the table with sha256 {info['sha256'][:12]}..., but "
                f"{table.path} has sha256 {table.checksum[:12]}...; refit with "
                f"'python -m surrogates.fit {table.path} --out {where}'"
            )

    # -- queries --

    def predict_z(self, x: np.ndarray) -> np.ndarray:
        """Unstandardised model-scale predictions, shape (rows, targets): ONE booster call."""
        raw = self.booster.inplace_predict(x, validate_features=False)
        raw = raw.reshape(len(x), len(self.targets))
        return raw * self._scale + self._center

    def outputs(self, z: np.ndarray) -> np.ndarray:
        """Model scale to observed units, every column inside its observed range.

        The same as each target's :meth:`Target.inverse`, vectorised over the columns.
        """
        out = np.where(self._is_log, np.exp(np.where(self._is_log, z, 0.0)),
                       self._base + expit(z) * self._width)
        return np.clip(out, self._lo, self._hi)

    def curve(
        self, config: Config, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A whole learning curve: (metrics[epoch - 1, metric], epoch_times[epoch - 1]).

        ``rng`` None gives the mean curve; otherwise noise that is consistent along the curve.
        """
        metrics, times, _ = self.curve_and_mean(config, rng)
        return metrics, times

    def curve_and_mean(
        self, config: Config, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`curve` plus the noise-free metrics (the mean curve) of the same configuration.

        The model-scale noise of :attr:`noise` is drawn first, then the objective metric's own
        (:class:`~surrogates.noise.MetricNoise`, where the surrogate has one), from ``rng``.
        """
        features = self.encoder.encode_config(config)
        raw = self.forest.curve(features, self._epochs)
        z = raw * self._scale + self._center
        mean = self.outputs(self._flatten(z))
        if rng is None:
            return mean[:, :-1], mean[:, -1], mean[:, :-1]
        out = self.outputs(self._flatten(z + self.noise.sample(rng)))
        metric_noise, k = self.noise.metric, self._noise_metric
        if metric_noise is not None and k is not None:
            x = features[self._noise_feature] if self._noise_feature is not None else 0.0
            out[:, k] = metric_noise.apply(mean[:, k], x, rng, *self._noisy_domain)
        return out[:, :-1], out[:, -1], mean[:, :-1]

    def _flatten(self, z: np.ndarray) -> np.ndarray:
        """Per-configuration outputs constant along each curve: their mean over the epochs.

        ``z`` has shape (epochs, targets) or (curves, epochs, targets).
        """
        if self._per_config.any():
            z = z.copy()
            z[..., self._per_config] = z[..., self._per_config].mean(axis=-2, keepdims=True)
        return z

    def mean_curves(self, configs: Sequence[Config] | pd.DataFrame) -> np.ndarray:
        """Mean curves of many configurations at once: shape (configs, epochs, targets)."""
        frame = pd.DataFrame(configs) if not isinstance(configs, pd.DataFrame) else configs
        n, e = len(frame), self.max_epochs
        rows = frame.loc[frame.index.repeat(e)].reset_index(drop=True)
        rows[EPOCH_FEATURE] = np.tile(self._epochs, n)
        z = self.predict_z(self.encoder.encode_frame(rows)).reshape(n, e, -1)
        return self.outputs(self._flatten(z))

    @cached_property
    def forest(self) -> CurveForest:
        """The booster as a :class:`~surrogates.forest.CurveForest` (same predictions, faster)."""
        return CurveForest(self.booster)

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    @property
    def best_observed(self) -> float:
        """The lowest value of the objective metric in the table (predictions never go below)."""
        return float(self.targets[self.target_names.index(self.metric)].lo)

    @property
    def worst_observed(self) -> float:
        """The highest value of the objective metric in the table (predictions never go above)."""
        return float(self.targets[self.target_names.index(self.metric)].hi)

