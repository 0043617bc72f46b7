"""Search spaces: typed domains, seeded sampling, and a bijective encoding to the unit cube.

Every domain maps its legal values to ``width`` numbers in [0, 1] (log scale where declared,
one-hot for ``choice``) and decodes any point of [0, 1]^width back to a legal value, so model-based
methods can work in one shared continuous space.

A :class:`SearchSpace` may carry a finite list of *candidates* (the configurations a table
recorded). Then sampling draws uniformly among the candidates and model-based searchers score
candidates instead of optimising over the continuous cube.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

Config = dict[str, Any]


class SearchSpaceError(ValueError):
    """A domain or configuration that is not legal; the message names the parameter."""


class Domain(ABC):
    """One hyperparameter's set of legal values."""

    name: str
    kind: str

    @property
    def width(self) -> int:
        """How many coordinates this domain takes in the encoded space."""
        return 1

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value with the given random generator."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of this domain."""

    @abstractmethod
    def encode(self, value: Any) -> np.ndarray:
        """Map a legal value to ``width`` numbers in [0, 1]."""

    @abstractmethod
    def decode(self, x: np.ndarray) -> Any:
        """Map ``width`` numbers (clipped to [0, 1]) back to a legal value."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """A JSON/YAML-serialisable description, read back by :func:`domain_from_spec`."""

    def _fail(self, message: str) -> SearchSpaceError:
        return SearchSpaceError(f"hyperparameter '{self.name}': {message}")


class _Interval(Domain):
    """A real or integer interval [low, high], optionally on a log scale."""

    log: bool = False

    def __init__(self, name: str, low: float, high: float) -> None:
        self.name = name
        if not (math.isfinite(low) and math.isfinite(high)):
            raise SearchSpaceError(f"hyperparameter '{name}': bounds must be finite numbers")
        if low >= high:
            raise SearchSpaceError(
                f"hyperparameter '{name}': low ({low}) must be smaller than high ({high})"
            )
        if self.log and low <= 0:
            raise SearchSpaceError(
                f"hyperparameter '{name}': a log-scale domain needs low > 0 (got {low})"
            )
        self.low = low
        self.high = high

    def _forward(self, value: float) -> float:
        return math.log(value) if self.log else float(value)

    def _to_unit(self, value: float) -> float:
        lo, hi = self._forward(self.low), self._forward(self.high)
        return min(1.0, max(0.0, (self._forward(value) - lo) / (hi - lo)))

    def _from_unit(self, u: float) -> float:
        u = min(1.0, max(0.0, float(u)))
        lo, hi = self._forward(self.low), self._forward(self.high)
        t = lo + u * (hi - lo)
        return math.exp(t) if self.log else t

    def encode(self, value: Any) -> np.ndarray:
        return np.array([self._to_unit(value)])

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high}


class Uniform(_Interval):
    """Real values, uniform on [low, high]."""

    kind = "uniform"

    def __init__(self, name: str, low: float, high: float) -> None:
        super().__init__(name, float(low), float(high))

    def sample(self, rng: np.random.Generator) -> float:
        return self._from_unit(rng.random())

    def contains(self, value: Any) -> bool:
        return _is_real(value) and self.low <= value <= self.high

    def decode(self, x: np.ndarray) -> float:
        return min(self.high, max(self.low, self._from_unit(x[0])))


class LogUniform(Uniform):
    """Real values, uniform in log(value) on [low, high]."""

    kind = "loguniform"
    log = True


class RandInt(_Interval):
    """Integers low..high inclusive, each equally likely."""

    kind = "randint"

    def __init__(self, name: str, low: int, high: int) -> None:
        if not (_is_integral(low) and _is_integral(high)):
            raise SearchSpaceError(f"hyperparameter '{name}': integer bounds expected")
        super().__init__(name, int(low), int(high))

    def _from_unit(self, u: float) -> float:
        # Each integer owns an equal share of [0, 1] (widened by 0.5 at both ends).
        u = min(1.0, max(0.0, float(u)))
        lo, hi = self._forward(self.low - 0.5), self._forward(self.high + 0.5)
        t = lo + u * (hi - lo)
        return math.exp(t) if self.log else t

    def _to_unit(self, value: float) -> float:
        lo, hi = self._forward(self.low - 0.5), self._forward(self.high + 0.5)
        return min(1.0, max(0.0, (self._forward(value) - lo) / (hi - lo)))

    def sample(self, rng: np.random.Generator) -> int:
        return self.decode(np.array([rng.random()]))

    def contains(self, value: Any) -> bool:
        return _is_integral(value) and self.low <= value <= self.high

    def decode(self, x: np.ndarray) -> int:
        return int(min(self.high, max(self.low, round(self._from_unit(x[0])))))


class LogRandInt(RandInt):
    """Integers low..high inclusive, uniform in log scale."""

    kind = "lograndint"
    log = True

    def __init__(self, name: str, low: int, high: int) -> None:
        if _is_real(low) and low < 1:
            raise SearchSpaceError(
                f"hyperparameter '{name}': a log-scale domain needs low >= 1 (got {low})"
            )
        super().__init__(name, low, high)


class Choice(Domain):
    """An unordered finite set of values (strings, numbers, booleans), one-hot encoded."""

    kind = "choice"

    def __init__(self, name: str, categories: Sequence[Any]) -> None:
        self.name = name
        categories = list(categories)
        if not categories:
            raise SearchSpaceError(f"hyperparameter '{name}': choice needs at least one category")
        if len(set(map(repr, categories))) != len(categories):
            raise SearchSpaceError(f"hyperparameter '{name}': repeated categories {categories}")
        self.categories = categories

    @property
    def width(self) -> int:
        return len(self.categories)

    def sample(self, rng: np.random.Generator) -> Any:
        return self.categories[int(rng.integers(len(self.categories)))]

    def contains(self, value: Any) -> bool:
        return any(value == c and type(value) is type(c) for c in self.categories) or (
            value in self.categories and not isinstance(value, bool)
        )

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.categories):
            if c == value:
                return i
        raise self._fail(f"{value!r} is not one of {self.categories}")

    def encode(self, value: Any) -> np.ndarray:
        x = np.zeros(self.width)
        x[self.index(value)] = 1.0
        return x

    def decode(self, x: np.ndarray) -> Any:
        return self.categories[int(np.argmax(x))]

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "categories": list(self.categories)}


class FinRange(Domain):
    """``size`` evenly spaced real values from low to high (inclusive), ordered."""

    kind = "finrange"
    log = False

    def __init__(self, name: str, low: float, high: float, size: int) -> None:
        self.name = name
        if not _is_integral(size) or size < 2:
            raise SearchSpaceError(f"hyperparameter '{name}': size must be an integer >= 2")
        if low >= high:
            raise SearchSpaceError(
                f"hyperparameter '{name}': low ({low}) must be smaller than high ({high})"
            )
        if self.log and low <= 0:
            raise SearchSpaceError(
                f"hyperparameter '{name}': a log-scale domain needs low > 0 (got {low})"
            )
        self.low, self.high, self.size = float(low), float(high), int(size)
        grid = (
            np.geomspace(self.low, self.high, self.size)
            if self.log
            else np.linspace(self.low, self.high, self.size)
        )
        grid[0], grid[-1] = self.low, self.high
        self.values = [float(v) for v in grid]

    def sample(self, rng: np.random.Generator) -> float:
        return self.values[int(rng.integers(self.size))]

    def contains(self, value: Any) -> bool:
        return _is_real(value) and any(math.isclose(value, v, rel_tol=1e-12) for v in self.values)

    def encode(self, value: Any) -> np.ndarray:
        idx = int(np.argmin([abs(value - v) for v in self.values]))
        return np.array([idx / (self.size - 1)])

    def decode(self, x: np.ndarray) -> float:
        u = min(1.0, max(0.0, float(x[0])))
        return self.values[round(u * (self.size - 1))]

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high, "size": self.size}


class LogFinRange(FinRange):
    """``size`` values from low to high (inclusive), evenly spaced in log scale."""

    kind = "logfinrange"
    log = True


DOMAIN_TYPES: dict[str, type[Domain]] = {
    cls.kind: cls
    for cls in (Uniform, LogUniform, RandInt, LogRandInt, Choice, FinRange, LogFinRange)
}


def domain_from_spec(name: str, spec: Mapping[str, Any]) -> Domain:
    """Build a domain from ``{"type": ..., "low": ..., "high": ...}`` (or ``categories``)."""
    kind = spec.get("type")
    if kind not in DOMAIN_TYPES:
        raise SearchSpaceError(
            f"hyperparameter '{name}': unknown domain type {kind!r}; "
            f"valid types: {', '.join(sorted(DOMAIN_TYPES))}"
        )
    args = {k: v for k, v in spec.items() if k != "type"}
    try:
        return DOMAIN_TYPES[kind](name, **args)
    except TypeError as err:
        raise SearchSpaceError(f"hyperparameter '{name}': bad arguments for {kind}: {err}") from err


@dataclass
class SearchSpace:
    """An ordered set of domains, optionally restricted to a finite list of candidates."""

    domains: list[Domain]
    candidates: list[Config] | None = None
    _offsets: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [d.name for d in self.domains]
        if len(set(names)) != len(names):
            raise SearchSpaceError(f"repeated hyperparameter names in {names}")
        self._offsets = list(np.cumsum([0] + [d.width for d in self.domains]))
        if self.candidates is not None:
            if not self.candidates:
                raise SearchSpaceError("the list of candidate configurations is empty")
            for c in self.candidates:
                self.validate(c)

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Mapping[str, Any]], candidates: Iterable[Config] | None = None
    ) -> SearchSpace:
        """Build from ``{name: domain spec}`` as written in configs and table metadata."""
        domains = [domain_from_spec(name, s) for name, s in spec.items()]
        return cls(domains, list(candidates) if candidates is not None else None)

    def spec(self) -> dict[str, dict[str, Any]]:
        return {d.name: d.spec() for d in self.domains}

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.domains]

    @property
    def dim(self) -> int:
        """Number of coordinates of the encoded space."""
        return int(self._offsets[-1])

    @cached_property
    def candidate_keys(self) -> list[tuple]:
        """``key()`` of every candidate, in candidate order (empty for a continuous space)."""
        return [self.key(c) for c in self.candidates or []]

    @property
    def is_finite(self) -> bool:
        return self.candidates is not None

    def __getitem__(self, name: str) -> Domain:
        for d in self.domains:
            if d.name == name:
                return d
        raise KeyError(name)

    def sample(self, rng: np.random.Generator) -> Config:
        """A configuration: a uniform candidate if the space is finite, else one draw per domain."""
        if self.candidates is not None:
            return dict(self.candidates[int(rng.integers(len(self.candidates)))])
        return {d.name: d.sample(rng) for d in self.domains}

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise :class:`SearchSpaceError` naming the first illegal or missing hyperparameter."""
        for d in self.domains:
            if d.name not in config:
                raise SearchSpaceError(f"hyperparameter '{d.name}' is missing from {dict(config)}")
            if not d.contains(config[d.name]):
                raise SearchSpaceError(
                    f"hyperparameter '{d.name}': {config[d.name]!r} is outside {d.spec()}"
                )
        extra = set(config) - set(self.names)
        if extra:
            raise SearchSpaceError(f"unknown hyperparameters {sorted(extra)}")

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Map a configuration to a point of [0, 1]^dim."""
        return np.concatenate([d.encode(config[d.name]) for d in self.domains])

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if not configs:
            return np.zeros((0, self.dim))
        return np.stack([self.encode(c) for c in configs])

    def decode(self, x: np.ndarray) -> Config:
        """Map any point of [0, 1]^dim (clipped) to a legal configuration."""
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        return {
            d.name: d.decode(x[self._offsets[i] : self._offsets[i + 1]])
            for i, d in enumerate(self.domains)
        }

    def key(self, config: Mapping[str, Any]) -> tuple:
        """A hashable identity of a configuration, for duplicate checks."""
        return tuple(
            round(float(config[d.name]), 12) if _is_real(config[d.name]) else config[d.name]
            for d in self.domains
        )


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _is_integral(value: Any) -> bool:
    return _is_real(value) and float(value) == int(value)
