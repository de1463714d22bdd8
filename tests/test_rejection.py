"""The rejection rule: its class models against their definition, its model-file form."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from napari_hamiltonian.classifier.rejection import SCORES, Rejection


def random_rule(rng, n_classes=3, components=2, d=5):
    means = rng.normal(size=(n_classes, components, d))
    chol = np.zeros((n_classes, components, d, d))
    for c in range(n_classes):
        for k in range(components):
            a = rng.normal(size=(d, d))
            chol[c, k] = np.linalg.cholesky(np.linalg.inv(a @ a.T + np.eye(d)))
    weights = rng.dirichlet(np.ones(components), n_classes)
    return Rejection(rng.normal(size=d), rng.uniform(0.5, 2, d), np.log(weights), means,
                     chol, np.zeros(len(SCORES))), weights


def test_class_log_likelihoods_are_those_of_the_gaussian_mixtures():
    rng = np.random.default_rng(0)
    rule, weights = random_rule(rng)
    x = rng.normal(size=(20, 5)) * 2
    z = (x - rule.center) / rule.scale
    def density(c, k):
        chol = rule.precision_cholesky[c, k]
        return multivariate_normal.pdf(z, rule.means[c, k], np.linalg.inv(chol @ chol.T))

    ref = np.stack([np.log(sum(w * density(c, k) for k, w in enumerate(weights[c])))
                    for c in range(len(weights))], 1)
    np.testing.assert_allclose(rule.log_likelihoods(x), ref, rtol=1e-5, atol=1e-4)
    scores = rule.scores(np.zeros((20, 4)), x)
    np.testing.assert_allclose(scores[:, 0], -ref.max(1), rtol=1e-5, atol=1e-4)
    assert np.all(scores[:, 1] == 0)  # no probe: "none" probability 0


def test_tensors_round_trip_and_an_older_rule_falls_back_with_a_warning():
    rng = np.random.default_rng(1)
    rule, _ = random_rule(rng)
    rule.thresholds = np.array([3.0, 0.5])
    back = Rejection.from_tensors(rule.tensors())
    x = rng.normal(size=(8, 5))
    np.testing.assert_array_equal(back.scores(np.zeros((8, 4)), x),
                                  rule.scores(np.zeros((8, 4)), x))
    assert Rejection.from_tensors({"model.fc1.weight": np.zeros(1)}) is None
    old = {"rejection.means": np.zeros((3, 4)), "rejection.whitening": np.eye(4),
           "rejection.thresholds": np.zeros(3)}
    with pytest.warns(UserWarning, match="earlier version.*k-sigma rule decides"):
        assert Rejection.from_tensors(old, "old.safetensors") is None


def test_cannot_tell_keeps_every_family_under_its_share_and_round_trips():
    """The "cannot tell at this resolution" thresholds: on their calibration images no
    family is named a class near criticality more than the share allows, the decision
    has three states, classes with no threshold (P*-like) are never "cannot tell",
    and the thresholds survive the model-file form."""
    from napari_hamiltonian.classifier.rejection import ACCEPTED, CANNOT_TELL, REJECTED

    rng = np.random.default_rng(2)
    rule, _ = random_rule(rng)
    rule.thresholds = np.array([np.inf, 0.9])
    n = 600
    families = np.repeat(np.array(["smooth", "labyrinth", "hot"]), n // 3)
    predicted = rng.integers(0, 3, n)
    # "smooth" images look like class 0 (low none-probability), the others are spread
    p_none = np.where(families == "smooth", rng.uniform(0, 0.3, n), rng.uniform(0, 1, n))
    scores = np.stack([np.zeros(n), p_none], 1)
    critical = np.array([True, True, False])
    share = 0.05
    cut = rule.calibrate_cannot_tell(scores, predicted, families, critical, share)
    assert np.isinf(cut[2]) and np.all(np.isfinite(cut[:2]))
    states = rule.decide(scores, predicted)
    assert set(np.unique(states)) == {REJECTED, ACCEPTED, CANNOT_TELL}
    for f in np.unique(families):
        m = families == f
        named = (states[m] == ACCEPTED) & critical[predicted[m]]
        assert named.mean() <= share
    # above the probe's threshold: "none of these", whatever the class
    assert np.all(states[p_none > 0.9] == REJECTED)
    # the class without a threshold keeps every accepted image
    assert np.all(states[(predicted == 2) & (p_none <= 0.9)] == ACCEPTED)
    back = Rejection.from_tensors(rule.tensors())
    np.testing.assert_array_equal(back.cannot_tell, cut)
    np.testing.assert_array_equal(back.decide(scores, predicted), states)
    # a rule without thresholds (written before them) never says "cannot tell"
    old = {k: v for k, v in rule.tensors().items() if k != "rejection.cannot_tell"}
    assert not np.any(Rejection.from_tensors(old).decide(scores, predicted) == CANNOT_TELL)
