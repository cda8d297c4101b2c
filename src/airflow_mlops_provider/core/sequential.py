"""Confidence sequences: intervals that stay valid however often the data are looked at.

The canary judge measures the arms again and again as traffic accumulates and stops as soon
as it is sure. A fixed-sample interval checked at every look would be wrong far more often
than its level says (each look is another chance to cross by luck). A *confidence sequence*
covers the true value at every look simultaneously with probability >= 1 - alpha.

We use the normal-mixture boundary (Robbins 1970; the mixture SPRT of Johari, Koomen, Pekelis
& Walsh 2017/2022 used for A/B tests; Howard, Ramdas, McAuliffe & Sekhon 2021, eq. (14)). For
an estimate theta_hat whose variance is v (v shrinks like 1/n as requests arrive), the mixture
of likelihood ratios over a normal prior N(0, tau^2) on the effect is a nonnegative martingale,
and Ville's inequality gives, for every look at once,

    |theta_hat - theta| <= sqrt( v (1 + v / tau^2) (2 ln(1/alpha) + ln(1 + tau^2 / v)) )

with probability >= 1 - alpha. With the estimated variance this holds asymptotically
(Waudby-Smith, Arnold, Wu, Howard & Ramdas 2024, "asymptotic confidence sequences").
`tau` sets where the boundary is tightest: width is smallest when tau^2 / v is about
2 ln(1/alpha) + ln(1 + tau^2 / v); the judge takes tau = the bound's margin, so the sequence
is tightest when the question "inside the margin or not" becomes answerable.
"""

from __future__ import annotations

import math


def half_width(variance: float, alpha: float, tau: float) -> float:
    """Half-width of the two-sided level-alpha normal-mixture confidence sequence."""
    if variance <= 0:
        return 0.0
    if not math.isfinite(variance):
        return math.inf
    ratio = tau * tau / variance
    return math.sqrt(variance * (1 + 1 / ratio) * (2 * math.log(1 / alpha) + math.log1p(ratio)))


def variance_to_decide(margin: float, alpha: float, tau: float) -> float:
    """The largest variance at which an estimate `margin` away from its bound would be
    decided (half-width < |margin|); 0 when it never would (margin 0)."""
    target = abs(margin)
    if target == 0:
        return 0.0
    low, high = 0.0, target * target
    while half_width(high, alpha, tau) < target:  # the width grows with the variance
        high *= 4
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if half_width(mid, alpha, tau) < target else (low, mid)
    return low
