import numpy as np
import pytest

from lhg_ros.features.normalization import FeatureStats, RunningNormalizer, StatsAccumulator


def test_accumulated_statistics_equal_numpy_over_all_chunks():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(5.0, 3.0, size=(n, 4)) for n in (7, 100, 1, 53)]
    acc = StatsAccumulator(4)
    for c in chunks:
        acc.add(c)
    stats = acc.stats()
    everything = np.concatenate(chunks)
    np.testing.assert_allclose(stats.mean, everything.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.std, everything.std(axis=0), rtol=1e-5)
    normalised = stats.apply(everything)
    np.testing.assert_allclose(normalised.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(axis=0), 1, atol=1e-4)


def test_statistics_survive_a_round_trip_through_json_data():
    stats = FeatureStats(np.arange(3.0), np.array([1.0, 2.0, 0.0]), count=9)
    again = FeatureStats.from_dict(stats.to_dict())
    np.testing.assert_array_equal(again.mean, stats.mean)
    np.testing.assert_array_equal(again.std, stats.std)
    assert again.std[2] > 0, 'a constant dimension must not divide by zero'


def test_bad_statistics_are_refused_with_a_reason():
    with pytest.raises(ValueError, match='NaN or inf'):
        FeatureStats(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(ValueError, match="lack 'std'"):
        FeatureStats.from_dict({'mean': [0.0]})
    with pytest.raises(ValueError, match='features have 2 dims, statistics have 3'):
        FeatureStats(np.zeros(3), np.ones(3)).apply(np.zeros((4, 2)))


def test_running_normalisation_is_causal_and_settles():
    rng = np.random.default_rng(1)
    data = rng.normal(-8.0, 4.0, size=(3000, 2))
    out = RunningNormalizer(2, window_s=5.0).apply(data)
    changed = data.copy()
    changed[2000:] += 50.0
    np.testing.assert_array_equal(RunningNormalizer(2, window_s=5.0).apply(changed)[:2000],
                                  out[:2000])
    assert abs(out[1000:].mean()) < 0.2 and abs(out[1000:].std() - 1.0) < 0.2
    assert np.isfinite(out).all()
