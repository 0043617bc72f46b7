"""Parity with the reference implementations, on numbers computed once with them and pinned here.

The references are not dependencies of the tests: each pinned number says where it came from.
- Optuna 5.0.0 ``optuna.samplers._tpe.parzen_estimator._ParzenEstimator`` with the
  ``TPESampler`` defaults (``prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False,
  weights=default_weights``), search space ``x, y: FloatDistribution(0, 1)``,
  ``c: CategoricalDistribution(["a", "b", "c"])``; ``log_pdf`` of the estimator over all three
  parameters (the multivariate TPE) and of one estimator per parameter (the univariate TPE).
- statsmodels 0.15.0 ``KDEMultivariate(data, var_type="ccu", bw="normal_reference")`` (what
  HpBandSter's BOHB builds): ``bw`` and ``log(pdf(q))``.
- Syne Tune's ``PromotionRungSystem`` (legacy_hyperband_promotion.py): the promotion rule, applied
  by hand in the comments of the trace.
- DEHB's ``vector_to_configspace`` (automl/DEHB, dehb/optimizers/de.py): a categorical coordinate
  v maps to the last category i with v >= i / k, and a category encodes as i / k.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern

from hpo_methods.protocol import Decision
from hpo_methods.schedulers.asha import ASHAScheduler
from hpo_methods.searchers.gp import GPModel, Matern52
from hpo_methods.searchers.parzen import ProductKDE
from hpo_methods.space import SearchSpace

# -- TPE: Optuna's Parzen estimator ---------------------------------------------------------------

X = np.array([0.12, 0.9, 0.35, 0.5, 0.77, 0.41, 0.03])
Y = np.array([0.6, 0.1, 0.95, 0.4, 0.2, 0.8, 0.55])
C = np.array([0, 2, 1, 1, 0, 2, 1])
QUERY_NUM = np.array([[0.0, 0.5], [0.3, 0.05], [0.5, 0.7], [0.99, 1.0]])
QUERY_CAT = np.array([[0], [1], [2], [1]])


def test_parzen_estimator_matches_optuna():
    from hpo_methods.searchers.parzen import ParzenEstimator

    estimator = ParzenEstimator(np.stack([X, Y], axis=1), C[:, None], [3], prior_weight=1.0)
    # Optuna: _mixture_distribution.distributions[0].sigma and [1].sigma (the prior's last)
    assert np.allclose(
        estimator.sigmas[0], [0.23, 0.13, 0.23, 0.27, 0.27, 1 / 9, 1 / 9, 1.0], rtol=1e-12
    )
    assert np.allclose(
        estimator.sigmas[1], [0.2, 1 / 9, 0.15, 0.2, 0.2, 0.2, 0.15, 1.0], rtol=1e-12
    )
    # Optuna's categorical kernel rows: 1 + 1/8 on the observed category, 1/8 on each, normalised
    assert np.allclose(estimator.cat_kernels[0][0], [9 / 11, 1 / 11, 1 / 11])
    assert np.allclose(estimator.cat_kernels[0][-1], [1 / 3] * 3)  # the prior
    joint = [-0.4917662357209481, -2.2642785041655507, -0.4431251994155282, -2.9582219825706186]
    assert np.allclose(estimator.log_pdf(QUERY_NUM, QUERY_CAT), joint, rtol=1e-12)
    each = [
        [0.192414945522415, 0.09099403590292465, -1.1939224684724346],
        [0.09269565768145216, -0.10412354868222551, -0.9315582040049435],
        [0.060339192299836863, 0.04310275519604878, -1.1939224684724346],
        [-0.34032322348854893, -0.18075590704323796, -0.9315582040049435],
    ]
    assert np.allclose(estimator.log_pdf_each(QUERY_NUM, QUERY_CAT), each, rtol=1e-12)


def test_parzen_weights_ramp_as_optuna_after_25_observations():
    from hpo_methods.searchers.parzen import ParzenEstimator, optuna_weights

    x = np.random.default_rng(0).random(30)
    weights = optuna_weights(30)
    assert np.allclose(weights[:5], np.linspace(1 / 30, 1, 5)) and np.all(weights[5:] == 1)
    estimator = ParzenEstimator(x[:, None], np.zeros((30, 0), dtype=int), [], 1.0, weights)
    # Optuna: _mixture_distribution.weights[:3] and log_pdf({"x": [0.05, 0.5, 0.93]})
    assert np.allclose(
        estimator.weights[:3], [0.00116618075801749, 0.00962099125364431, 0.01807580174927114]
    )
    query = np.array([[0.05], [0.5], [0.93]])
    expected = [0.5696646826607838, -0.5984650845906998, 0.21290047501228693]
    assert np.allclose(estimator.log_pdf(query, np.zeros((3, 0), dtype=int)), expected)


# -- BOHB: statsmodels' KDEMultivariate (normal reference) ----------------------------------------


def test_product_kde_matches_statsmodels():
    num = np.array(
        [[0.1, 0.8], [0.25, 0.6], [0.3, 0.75], [0.45, 0.9], [0.5, 0.2], [0.62, 0.55],
         [0.7, 0.4], [0.95, 0.05]]
    )
    cat = np.array([[0], [0], [0], [0], [0], [1], [2], [1]])  # every category observed
    kde = ProductKDE(num, cat, [3])
    bandwidths = [0.20075248603698742, 0.21919688818775557, 0.5569010184862064]
    assert np.allclose(np.r_[kde.num_bw, kde.cat_bw], bandwidths, rtol=1e-12)
    query_num = np.array([[0.2, 0.7], [0.5, 0.5], [0.9, 0.1], [0.0, 1.0]])
    query_cat = np.array([[0], [1], [2], [0]])
    log_pdf = [-0.5344783706833148, -0.9020473020136393, -1.6704423624586484, -1.6973667646512711]
    assert np.allclose(kde.log_pdf(query_num, query_cat), log_pdf, rtol=1e-12)


def test_product_kde_keeps_the_minimum_bandwidth():
    num = np.full((6, 1), 0.3)  # no spread: the normal reference rule gives 0
    kde = ProductKDE(num, np.zeros((6, 0), dtype=int), [], min_bandwidth=1e-3)
    assert kde.num_bw.tolist() == [1e-3]


# -- DEHB: one coordinate per categorical ---------------------------------------------------------

MIXED = {
    "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "act": {"type": "choice", "categories": ["relu", "tanh", "elu"]},
}


def test_dehb_vectors_bin_categories_like_the_reference():
    from hpo_methods.schedulers.dehb import DEVectors

    space = SearchSpace.from_spec(MIXED)
    vectors = DEVectors(space)
    assert vectors.dim == 2  # not the 4 columns of the one-hot encoding
    assert vectors.encode({"lr": 1e-4, "act": "elu"}).tolist() == [0.0, 2 / 3]
    assert vectors.encode({"lr": 1e-1, "act": "relu"}).tolist() == [1.0, 0.0]
    # the reference: ranges = [0, 1/3, 2/3]; the last i with v >= ranges[i]
    cuts = [(0.0, "relu"), (0.33, "relu"), (1 / 3, "tanh"), (0.66, "tanh"), (2 / 3, "elu"),
            (1.0, "elu")]
    for v, category in cuts:
        assert vectors.decode(np.array([0.5, v]))["act"] == category
    assert vectors.decode(np.array([0.5, 0.7]))["lr"] == pytest.approx(10 ** -2.5)
    assert np.allclose(vectors.snap(np.array([0.123, 0.9])), [0.123, 2 / 3])


def test_dehb_mutates_the_category_coordinate():
    from hpo_methods.schedulers.dehb import DEPopulations, DEVectors  # noqa: F401

    space = SearchSpace.from_spec(MIXED)
    pops = DEPopulations(space, seed=0, max_epochs=9, sizes=[5], mutation_factor=0.5)
    assert pops.population[0].shape == (5, 2)
    assert set(pops.population[0][:, 1]).issubset({0.0, 1 / 3, 2 / 3})
    pool = np.array([[0.2, 0.0], [0.5, 2 / 3], [0.4, 2 / 3]])
    target = np.array([0.1, 0.0])
    decoded = set()
    for _ in range(100):
        child = pops._offspring(target, pool)
        # a + F (b - c) on the category coordinate: 0, 2/3 - 1/3 or 2/3 + 1/3 (or the target's 0)
        assert child.shape == (2,)
        assert min(abs(child[1] - v) for v in (0.0, 1 / 3, 1.0)) < 1e-12
        decoded.add(pops.vectors.decode(child)["act"])
    assert decoded == {"relu", "tanh", "elu"}


# -- ASHA: a Syne Tune promotion trace -------------------------------------------------------------


def test_asha_promotions_follow_syne_tune():
    # Syne Tune's PromotionRungSystem: rungs scanned from the top; a rung with >= 2 values has
    # cutoff = numpy.quantile(values, 1/eta) (virt = (n - 1) q + 1, linear); its best entry not
    # promoted yet is promoted iff its value <= cutoff (equal values: the earlier entry first).
    s = ASHAScheduler(9, 0, grace_period=1, reduction_factor=3, variant="promotion")
    assert s.rungs == [1, 3, 9]
    trace = []

    def report(trial: int, epoch: int, value: float) -> None:
        assert s.on_report(trial, epoch, value) == Decision.PAUSE
        trace.append(s.trial_to_resume())

    report(0, 1, 0.5)  # one value: no cutoff
    report(1, 1, 0.6)  # [.5 .6]: cutoff .5 + (1/3) .1 = .5333; best not promoted: 0 (.5)
    report(0, 3, 0.45)  # rung 3 has one value; rung 1: best not promoted is 1 (.6) > .5333
    report(2, 1, 0.4)  # rung 1 [.4 .5* .6]: cutoff .4 + (2/3) .1 = .4667: 2 (.4) promoted
    report(2, 3, 0.42)  # rung 3 [.42 .45]: cutoff .42 + (1/3) .03 = .43: 2 (.42) promoted to 9
    report(3, 1, 0.4)  # rung 1 [.4* .4 .5* .6]: cutoff .4; 3 (.4, after 2) <= .4: promoted
    report(3, 3, 0.5)  # rung 3 [.42* .45 .5]: cutoff .44 < .45 (trial 0); rung 1: 1 (.6) > .4
    assert trace == [None, 0, None, 2, 2, 3, None]
    assert s.on_report(2, 9, 0.3) == Decision.CONTINUE  # the last rung decides nothing


# -- GP: hyperparameters and the latent variance ---------------------------------------------------


def test_gp_recovers_known_length_scales():
    rng = np.random.default_rng(0)
    true = np.array([0.2, 0.8, 3.0])  # a sample path of this GP varies fast, slowly, hardly
    x = rng.random((100, 3))
    cov = (ConstantKernel(1.0) * Matern(length_scale=true, nu=2.5))(x) + 1e-4 * np.eye(100)
    y = np.linalg.cholesky(cov) @ rng.standard_normal(100)
    model = GPModel(3, seed=0)
    model.fit(x, y, optimize=True)
    fitted = Matern52(model.kernel)
    ratio = fitted.length_scale / true
    assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), fitted.length_scale  # measured: 1.22 1.08 .88
    assert fitted.noise < 1e-3  # the sample has (almost) no noise
    signal = fitted.scale * model._y_std**2  # back in the units of y
    assert 0.25 < signal < 4.0


def test_gp_variance_is_the_latent_one():
    rng = np.random.default_rng(1)
    x = rng.random((20, 2))
    y = np.sin(5 * x[:, 0]) + 0.3 * rng.standard_normal(20)  # noisy observations
    model = GPModel(2, seed=0)
    model.fit(x, y, optimize=True)
    fitted = Matern52(model.kernel)
    assert fitted.noise > 1e-3  # the noise is estimated, so the two variances differ
    query = np.vstack([x[:3], rng.random((3, 2))])
    gpr = GaussianProcessRegressor(kernel=model.kernel, optimizer=None, alpha=1e-8).fit(
        x, model.standardise(y)
    )
    _, std = gpr.predict(query, return_std=True)  # scikit-learn's includes the White noise
    parts = model.parts(query)
    assert np.allclose(parts.var, std**2 - fitted.noise, rtol=1e-6, atol=1e-9)
    assert np.all(parts.var < std**2)
