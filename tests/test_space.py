"""Search-space domains: sampling, membership, encoding round trips, and bad bounds."""

import numpy as np
import pytest

from hpo_methods.space import (
    Choice,
    FinRange,
    LogFinRange,
    LogRandInt,
    LogUniform,
    RandInt,
    SearchSpace,
    SearchSpaceError,
    Uniform,
    domain_from_spec,
)

CHAPTER_SPACE = {
    "learning_rate": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "momentum": {"type": "uniform", "low": 0.0, "high": 0.99},
    "weight_decay": {"type": "loguniform", "low": 1e-9, "high": 1e-2},
    "batch_size": {"type": "randint", "low": 8, "high": 128},
    "activation": {"type": "choice", "categories": ["ReLU", "LeakyReLU", "Softplus"]},
}


def all_domains():
    return [
        Uniform("u", -1.0, 3.0),
        LogUniform("lu", 1e-4, 1.0),
        RandInt("ri", 8, 128),
        LogRandInt("lri", 1, 1024),
        Choice("c", ["a", "b", "c"]),
        FinRange("fr", 0.0, 1.0, 5),
        LogFinRange("lfr", 1e-3, 1e-1, 3),
    ]


@pytest.mark.parametrize("domain", all_domains(), ids=lambda d: d.kind)
def test_samples_are_legal_and_round_trip_exactly(domain):
    rng = np.random.default_rng(0)
    for _ in range(200):
        value = domain.sample(rng)
        assert domain.contains(value)
        x = domain.encode(value)
        assert x.shape == (domain.width,)
        assert np.all((x >= 0) & (x <= 1))
        back = domain.decode(x)
        assert domain.contains(back)
        if isinstance(value, float) and domain.kind in ("uniform", "loguniform"):
            assert back == pytest.approx(value, rel=1e-12)
        else:
            assert back == value


@pytest.mark.parametrize("domain", all_domains(), ids=lambda d: d.kind)
def test_any_point_of_the_cube_decodes_to_a_legal_value(domain):
    rng = np.random.default_rng(1)
    for _ in range(200):
        assert domain.contains(domain.decode(rng.uniform(-0.5, 1.5, domain.width)))


def test_log_encoding_is_linear_in_log_space():
    d = LogUniform("lr", 1e-5, 1e-1)
    assert d.encode(1e-3)[0] == pytest.approx(0.5)
    assert d.decode(np.array([0.25])) == pytest.approx(1e-4)


def test_randint_gives_every_integer_an_equal_share():
    d = RandInt("b", 1, 4)
    draws = [d.sample(np.random.default_rng(s)) for s in range(4000)]
    counts = np.bincount(draws, minlength=5)[1:]
    assert set(draws) == {1, 2, 3, 4}
    assert counts.min() > 900  # expected 1000 each


def test_choice_is_one_hot():
    d = Choice("act", ["ReLU", "LeakyReLU", "Softplus"])
    assert d.encode("LeakyReLU").tolist() == [0.0, 1.0, 0.0]
    assert d.decode(np.array([0.2, 0.1, 0.9])) == "Softplus"


def test_finrange_values():
    assert FinRange("f", 0.0, 1.0, 5).values == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert LogFinRange("f", 1e-3, 1e-1, 3).values == pytest.approx([1e-3, 1e-2, 1e-1])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "uniform", "low": 1.0, "high": 1.0}, "must be smaller"),
        ({"type": "uniform", "low": 2.0, "high": 1.0}, "must be smaller"),
        ({"type": "loguniform", "low": 0.0, "high": 1.0}, "low > 0"),
        ({"type": "loguniform", "low": -1.0, "high": 1.0}, "low > 0"),
        ({"type": "randint", "low": 5, "high": 5}, "must be smaller"),
        ({"type": "lograndint", "low": 0, "high": 5}, "low >= 1"),
        ({"type": "choice", "categories": []}, "at least one"),
        ({"type": "finrange", "low": 0.0, "high": 1.0, "size": 1}, "size"),
        ({"type": "logfinrange", "low": 0.0, "high": 1.0, "size": 3}, "low > 0"),
        ({"type": "gaussian", "low": 0.0, "high": 1.0}, "unknown domain type"),
    ],
)
def test_bad_bounds_name_the_parameter(spec, message):
    with pytest.raises(SearchSpaceError, match=message) as info:
        domain_from_spec("my_param", spec)
    assert "my_param" in str(info.value)


def test_space_encode_decode_and_validate():
    space = SearchSpace.from_spec(CHAPTER_SPACE)
    assert space.dim == 4 + 3
    rng = np.random.default_rng(3)
    for _ in range(100):
        config = space.sample(rng)
        space.validate(config)
        back = space.decode(space.encode(config))
        assert back["batch_size"] == config["batch_size"]
        assert back["activation"] == config["activation"]
        assert back["learning_rate"] == pytest.approx(config["learning_rate"])
    with pytest.raises(SearchSpaceError, match="batch_size"):
        space.validate({**config, "batch_size": 500})
    with pytest.raises(SearchSpaceError, match="momentum"):
        space.validate({k: v for k, v in config.items() if k != "momentum"})


def test_seeded_sampling_is_reproducible():
    space = SearchSpace.from_spec(CHAPTER_SPACE)
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b


def test_finite_space_samples_only_candidates():
    candidates = [
        {"x": 0.1, "c": "a"},
        {"x": 0.7, "c": "b"},
    ]
    space = SearchSpace.from_spec(
        {
            "x": {"type": "uniform", "low": 0, "high": 1},
            "c": {"type": "choice", "categories": ["a", "b"]},
        },
        candidates,
    )
    rng = np.random.default_rng(0)
    drawn = {space.key(space.sample(rng)) for _ in range(50)}
    assert drawn == {space.key(c) for c in candidates}
    with pytest.raises(SearchSpaceError, match="'x'"):
        SearchSpace(space.domains, [{"x": 2.0, "c": "a"}])
