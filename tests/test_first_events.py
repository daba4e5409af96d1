"""Comparing two ensembles' first-event times: Kaplan-Meier medians and the log-rank test.

Checked against facts that do not depend on the code: p-values are uniform
when both samples come from one distribution, a tenfold rate difference is
plain with 20 runs each, the Kaplan-Meier median of uncensored times is the
sample median and censoring after it does not move it, the median's 95 %
interval covers the true median about 95 % of the time, and the stated
detectable rate ratio is detected with about the stated power.
"""

import numpy as np
import pytest

from mdkit.analysis.ensemble import POWER, FirstEventError, compare_first_events


def draw(rng, mean_ps, n, end_ps=np.inf):
    """``n`` exponential first-event times, runs ending at ``end_ps`` censored there."""
    times = rng.exponential(mean_ps, n)
    return np.minimum(times, end_ps), times < end_ps


def test_one_distribution_gives_uniform_p_values(rng):
    pvalues = np.array([compare_first_events(*draw(rng, 2.0, 20, 3.5),
                                             *draw(rng, 2.0, 20, 3.5))["pvalue"]
                        for _ in range(300)])
    # under the null hypothesis p is uniform on [0, 1]: 5 % below 0.05 (binomial
    # 300 x 0.05 = 15 +- 3.8; the asymptotic test is a little liberal with 20 censored
    # runs, 20-21 of 300 with three seeds), median 1/2
    assert 5 <= np.sum(pvalues < 0.05) <= 30
    assert 0.42 <= np.median(pvalues) <= 0.58
    same = compare_first_events(*draw(rng, 2.0, 20), *draw(rng, 2.0, 20))
    assert same["pvalue"] > 0.05 and same["compatible"] is True


def test_a_tenfold_rate_difference_is_found_with_20_runs_each(rng):
    for _ in range(50):
        fast, slow = draw(rng, 0.3, 20, 3.5), draw(rng, 3.0, 20, 3.5)
        result = compare_first_events(*fast, *slow)
        assert result["pvalue"] < 0.01 and result["compatible"] is False
        assert result["logrank_z"] > 0  # a leaves sooner than expected
        assert compare_first_events(*slow, *fast)["logrank_z"] == \
            pytest.approx(-result["logrank_z"])


def test_kaplan_meier_median_is_the_sample_median_and_censoring_after_it_does_not_move_it(
        rng):
    for n in (9, 21, 101):  # odd: the sample median is one of the times
        times = rng.exponential(2.0, n)
        one = compare_first_events(times, np.ones(n, bool), [1.0], [True])["a"]
        assert one["n_events"] == n
        assert one["median_first_event_ps"] == np.median(times)
        # every run stopped just after the sample median: the curve up to there is the same
        end = np.sort(times)[n // 2 + 1]
        cut = compare_first_events(np.minimum(times, end), times < end, [1.0], [True])["a"]
        assert cut["n_events"] < n
        assert cut["median_first_event_ps"] == np.median(times)


def test_median_interval_covers_the_true_median_about_95_percent_of_the_time(rng):
    true_median = 2.0 * np.log(2)
    covered = []
    for _ in range(300):
        a = compare_first_events(*draw(rng, 2.0, 40, 6.0), [1.0], [True])["a"]
        high = a["median_high_ps"] if a["median_high_ps"] is not None else np.inf
        covered.append(a["median_low_ps"] <= true_median <= high)
    # the pointwise (Greenwood) band covers a little less than it says: 0.91-0.93 of 300
    # draws with three seeds (binomial spread 0.016)
    assert 0.87 <= np.mean(covered) <= 0.99


def test_the_stated_detectable_rate_ratio_is_detected_with_the_stated_power(rng):
    # 30 + 30 runs, no censoring: 60 events, exp(2.80 / sqrt(60 / 4)) = 2.06
    ratio = compare_first_events(*draw(rng, 1.0, 30), *draw(rng, 1.0, 30))[
        "detectable_rate_ratio"]
    assert ratio == pytest.approx(2.06, abs=0.01)
    found = [compare_first_events(*draw(rng, 1.0, 30), *draw(rng, ratio, 30))["pvalue"] < 0.05
             for _ in range(300)]
    assert abs(np.mean(found) - POWER) < 0.08


def test_no_events_and_bad_input():
    none = compare_first_events([3.5, 3.5], [False, False], [3.5], [False])
    assert none["pvalue"] is None and none["compatible"] is None
    assert none["a"]["median_first_event_ps"] is None and none["b"]["n_runs"] == 1
    one_sided = compare_first_events([1.0, 3.5], [True, False], [3.5, 3.5], [False, False])
    assert 0 < one_sided["pvalue"] < 1 and one_sided["b"]["median_first_event_ps"] is None
    with pytest.raises(FirstEventError, match="ensemble b has no runs"):
        compare_first_events([1.0], [True], [], [])
    with pytest.raises(FirstEventError, match="ensemble a has 2 times but 1 event flags"):
        compare_first_events([1.0, 2.0], [True], [1.0], [True])
    with pytest.raises(FirstEventError, match="not finite and >= 0"):
        compare_first_events([1.0], [True], [float("nan")], [True])
