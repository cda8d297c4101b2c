"""Small, shared pieces of inference: normal tails, Wilson intervals, Holm's procedure.

The gate (fixed sample) and the canary judge (sequential) both reduce a bound to a *margin*:
the signed distance of the measured quantity to its bound, positive inside (core/bounds.py).
Here a margin with a standard error becomes two one-sided p-values:

    p_within  = P(Z >= margin / se)   small: evidence the quantity is inside its bound
    p_outside = P(Z <= margin / se)   small: evidence the bound is broken

and the two-sided (1 - 2 alpha) interval `margin ± z(1-alpha) se`, whose ends are exactly the
one-sided tests at level alpha. A standard error of 0 (e.g. two identical models) makes both
tests exact: inside when margin >= 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.stats import norm


def z_of(alpha: float) -> float:
    """The one-sided standard normal quantile z(1 - alpha)."""
    return float(norm.isf(alpha))


def normal_p_values(margin: float, se: float) -> tuple[float, float]:
    """(p_within, p_outside) of a margin measured with standard error `se`."""
    if se == 0:
        return (0.0, 1.0) if margin >= 0 else (1.0, 0.0)
    z = margin / se
    return float(norm.sf(z)), float(norm.cdf(z))


def wilson(successes: float, total: float, alpha: float) -> tuple[float, float]:
    """Two-sided Wilson score interval of a proportion, each side one-sided at `alpha`.

    Unlike the plain normal interval it stays inside [0, 1] and does not collapse to a point
    when the count is 0 or `total` (Wilson 1927; Brown, Cai & DasGupta 2001)."""
    if total <= 0:
        return 0.0, 1.0
    z = z_of(alpha)
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected with family-wise error
    <= alpha, under any dependence between the tests (Holm 1979)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected = [False] * len(p_values)
    m = len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (m - rank):
            break
        rejected[i] = True
    return rejected
