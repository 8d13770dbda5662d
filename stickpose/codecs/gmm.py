"""Gaussian-mixture decoders (seed report 000): the 20 highest pixels of a map, a 3-component
Bayesian Gaussian mixture, the mean of the heaviest component; and the left/right
de-duplicating variant.

``gmm-sklearn`` is the seed's own path, scikit-learn's ``BayesianGaussianMixture`` one map at
a time. ``gmm`` runs the same variational EM (Dirichlet-process weights, full covariances,
scikit-learn's priors, k-means start, lower-bound stopping rule) on every map of a batch at
once in NumPy; ``stickpose bench gmm`` measures the two side by side.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.special import betaln, digamma, gammaln

from ..skeleton import FLIP_PAIRS

SUMMARIES = {    # registered by ``decoders``
    "gmm": "seed 000: 3-component Bayesian GMM on the top 20 pixels, batched EM",
    "gmm-sklearn": "the same GMM through scikit-learn, one map at a time (reference, slow)",
    "dedup-gmm": "seed 000: GMM that keeps left and right joints apart",
}

TOP_PIXELS = 20
COMPONENTS = 3
MAX_ITER = 100            # scikit-learn's defaults
TOL = 1e-3
REG_COVAR = 1e-6
LATERAL = sorted(j for pair in FLIP_PAIRS for j in pair)
MIN_WEIGHT = 0.01         # dedup: lighter components are never accepted
MIN_DISTANCE = math.sqrt(5)


def top_pixels(maps: np.ndarray, count: int = TOP_PIXELS) -> np.ndarray:
    """The ``count`` highest pixels of each map, highest first (ties: lower index first):
    ``(B, J, count, 2)`` xy."""
    flat = maps.reshape(*maps.shape[:2], -1)
    part = np.argpartition(-flat, count - 1, axis=-1)[..., :count]
    values = np.take_along_axis(flat, part, -1)
    order = np.lexsort((part, -values), axis=-1)
    index = np.take_along_axis(part, order, -1)
    y, x = np.divmod(index, maps.shape[3])
    return np.stack([x, y], -1).astype(np.float64)


# --- the seed's path -----------------------------------------------------------------------

def fit_sklearn(points: np.ndarray, seed: int = 0):
    """Means ``(P, K, 2)`` and weights ``(P, K)`` of scikit-learn's fit to each point set."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    means, weights = [], []
    for sample in points:
        mixture = BayesianGaussianMixture(n_components=COMPONENTS, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(sample)
        means.append(mixture.means_)
        weights.append(mixture.weights_)
    return np.array(means), np.array(weights)


# --- batched variational EM ----------------------------------------------------------------

def _kmeans_labels(points: np.ndarray, seed: int, iterations: int = 30) -> np.ndarray:
    """k-means labels ``(P, N)`` for every point set ``(P, N, 2)`` at once, started as
    scikit-learn's ``KMeans(n_init=1, random_state=seed)`` starts: greedy k-means++ with
    ``2 + log K`` trials per centre. Its random draws do not depend on the data, so one
    seeded sequence serves every set; then Lloyd iterations to the fixed point."""
    count, size = points.shape[:2]
    rows = np.arange(count)
    trials = 2 + int(np.log(COMPONENTS))
    draws = np.random.RandomState(seed)
    first = min(int(draws.random_sample() * size), size - 1)   # choice() with uniform p
    centres = [points[:, first]]
    closest = ((points - centres[0][:, None]) ** 2).sum(-1)             # (P, N)
    for _ in range(1, COMPONENTS):
        targets = draws.random_sample(trials) * closest.sum(-1, keepdims=True)   # (P, T)
        candidates = np.minimum((np.cumsum(closest, -1)[:, None] < targets[..., None])
                                .sum(-1), size - 1)                     # searchsorted
        chosen = points[rows[:, None], candidates]                      # (P, T, 2)
        reach = np.minimum(closest[:, None],
                           ((points[:, None] - chosen[:, :, None]) ** 2).sum(-1))  # (P, T, N)
        best = reach.sum(-1).argmin(-1)
        closest = reach[rows, best]
        centres.append(chosen[rows, best])
    centres = np.stack(centres, 1)                                          # (P, K, 2)
    # Lloyd as scikit-learn runs it: a set stops when its labels repeat, or when its centres
    # move (squared, summed) by at most 1e-4 x the data's mean variance; then it is labelled
    # by its final centres
    tol = 1e-4 * points.var(axis=1).mean(-1)
    labels = np.full((count, size), -1)
    active = np.ones(count, bool)
    for _ in range(iterations):
        new = ((points[:, :, None] - centres[:, None]) ** 2).sum(-1).argmin(-1)
        active &= ~(new == labels).all(-1)
        labels = np.where(active[:, None], new, labels)
        if not active.any():
            break
        one_hot = np.swapaxes(np.eye(COMPONENTS)[labels], 1, 2)             # (P, K, N)
        size_k = one_hot.sum(-1, keepdims=True)
        moved = np.where(size_k > 0, one_hot @ points / np.maximum(size_k, 1), centres)
        shift = ((moved - centres) ** 2).sum((1, 2))
        centres = np.where(active[:, None, None], moved, centres)
        settled = active & (shift <= tol)
        labels[settled] = ((points[settled, :, None] - centres[settled, None]) ** 2
                           ).sum(-1).argmin(-1)
        active &= ~settled
    return labels


class _Mixtures:
    """Variational posteriors of ``P`` independent 2-D mixtures (scikit-learn's formulas).

    2 x 2 matrices are kept as their entries (``xx, xy, yy``; the precision's upper
    Cholesky factor as ``p00, p01, p11``) so that every step is plain element-wise NumPy.
    """

    def __init__(self, points: np.ndarray):
        self.x = points                                                     # (P, N, 2)
        x, y = points[..., 0], points[..., 1]
        self.moments = np.stack([x * x, x * y, y * y], -1)                  # (P, N, 3)
        self.mean_prior = points.mean(1)                                    # (P, 2)
        cx, cy = x - self.mean_prior[:, :1], y - self.mean_prior[:, 1:]
        self.covariance_prior = np.stack([(cx * cx).sum(1), (cx * cy).sum(1), (cy * cy).sum(1)],
                                         -1) / (points.shape[1] - 1)        # np.cov, ddof 1
        self.dof_prior = 2.0
        self.mean_precision_prior = 1.0
        self.concentration_prior = 1.0 / COMPONENTS

    def m_step(self, resp: np.ndarray) -> None:
        nk = resp.sum(1) + 10 * np.finfo(resp.dtype).eps                   # (P, K)
        weighted = np.swapaxes(resp, 1, 2)                                  # (P, K, N)
        xk = weighted @ self.x / nk[..., None]                              # (P, K, 2)
        second = weighted @ self.moments / nk[..., None]                    # (P, K, 3)
        sk = second - np.stack([xk[..., 0] ** 2, xk[..., 0] * xk[..., 1], xk[..., 1] ** 2], -1)
        sk[..., [0, 2]] += REG_COVAR
        tail = np.concatenate([np.cumsum(nk[:, ::-1], 1)[:, -2::-1],
                               np.zeros((len(nk), 1))], 1)
        self.alpha = 1.0 + nk
        self.beta = self.concentration_prior + tail
        self.mean_precision = self.mean_precision_prior + nk
        self.means = ((self.mean_precision_prior * self.mean_prior[:, None] + nk[..., None] * xk)
                      / self.mean_precision[..., None])
        self.dof = self.dof_prior + nk
        offset = xk - self.mean_prior[:, None]
        shrink = (nk * self.mean_precision_prior / self.mean_precision)[..., None]
        cov = (self.covariance_prior[:, None] + nk[..., None] * sk + shrink * np.stack(
            [offset[..., 0] ** 2, offset[..., 0] * offset[..., 1], offset[..., 1] ** 2], -1))
        cov /= self.dof[..., None]
        # the precision's Cholesky factor (scikit-learn's _compute_precision_cholesky):
        # the inverse transpose of the covariance's lower Cholesky factor [[l00, 0], [l10, l11]]
        l00 = np.sqrt(cov[..., 0])
        l10 = cov[..., 1] / l00
        l11 = np.sqrt(cov[..., 2] - l10 ** 2)
        self.p00, self.p01, self.p11 = 1 / l00, -l10 / (l00 * l11), 1 / l11

    def take(self, keep: np.ndarray) -> "_Mixtures":
        """The mixtures of the sets where ``keep`` is true."""
        part = object.__new__(_Mixtures)
        for name, value in vars(self).items():
            setattr(part, name, value[keep] if isinstance(value, np.ndarray) else value)
        return part

    def e_step(self) -> np.ndarray:
        """Log responsibilities ``(P, N, K)``."""
        dx = self.x[:, :, None, 0] - self.means[:, None, :, 0]                # (P, N, K)
        dy = self.x[:, :, None, 1] - self.means[:, None, :, 1]
        y0 = dx * self.p00[:, None]
        y1 = dx * self.p01[:, None] + dy * self.p11[:, None]
        log_det = np.log(self.p00) + np.log(self.p11)
        log_gauss = (-0.5 * (2 * np.log(2 * np.pi) + y0 ** 2 + y1 ** 2) + log_det[:, None]
                     - np.log(self.dof)[:, None])                       # - 0.5 * d * log dof
        log_lambda = 2 * np.log(2) + digamma(0.5 * self.dof) + digamma(0.5 * (self.dof - 1))
        log_prob = log_gauss + 0.5 * (log_lambda - 2 / self.mean_precision)[:, None]
        total = digamma(self.alpha + self.beta)
        log_weights = (digamma(self.alpha) - total
                       + np.concatenate([np.zeros((len(total), 1)),
                                         np.cumsum(digamma(self.beta) - total, 1)[:, :-1]], 1))
        weighted = log_prob + log_weights[:, None]
        top = weighted.max(-1, keepdims=True)
        return weighted - top - np.log(np.exp(weighted - top).sum(-1, keepdims=True))

    def lower_bound(self, log_resp: np.ndarray) -> np.ndarray:
        """scikit-learn's ``_compute_lower_bound`` per set ``(P,)``."""
        log_det_chol = np.log(self.p00) + np.log(self.p11) - np.log(self.dof)
        log_wishart = -(self.dof * log_det_chol + self.dof * np.log(2)
                        + gammaln(0.5 * self.dof) + gammaln(0.5 * (self.dof - 1)))
        return (-(np.exp(log_resp) * log_resp).sum((1, 2)) - log_wishart.sum(1)
                + betaln(self.alpha, self.beta).sum(1) - np.log(self.mean_precision).sum(1))

    def weights(self) -> np.ndarray:
        total = self.alpha + self.beta
        weights = self.alpha / total * np.concatenate(
            [np.ones((len(total), 1)), np.cumprod(self.beta / total, 1)[:, :-1]], 1)
        return weights / weights.sum(1, keepdims=True)


def fit_batched(points: np.ndarray, seed: int = 0):
    """Means ``(P, K, 2)`` and weights ``(P, K)`` for each point set ``(P, N, 2)``: variational
    EM run on all sets together; each set stops, as scikit-learn's does, once its lower
    bound changes by less than ``TOL``, and leaves the batch."""
    means = np.zeros((len(points), COMPONENTS, 2))
    weights = np.zeros((len(points), COMPONENTS))
    live = np.arange(len(points))
    mixtures = _Mixtures(points)
    mixtures.m_step(np.eye(COMPONENTS)[_kmeans_labels(points, seed)])
    bound = np.full(len(points), -np.inf)
    for iteration in range(MAX_ITER):
        log_resp = mixtures.e_step()
        mixtures.m_step(np.exp(log_resp))
        new_bound = mixtures.lower_bound(log_resp)
        done = np.abs(new_bound - bound) < TOL
        if iteration == MAX_ITER - 1:
            done[:] = True
        means[live[done]] = mixtures.means[done]
        weights[live[done]] = mixtures.weights()[done]
        live, bound, mixtures = live[~done], new_bound[~done], mixtures.take(~done)
        if not len(live):
            break
    return means, weights


def _heaviest(means: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.take_along_axis(means, weights.argmax(-1)[..., None, None], -2)[..., 0, :]


def _fit_maps(maps: np.ndarray, fit):
    batch, joints = maps.shape[:2]
    points = top_pixels(maps).reshape(batch * joints, TOP_PIXELS, 2)
    means, weights = fit(points)
    return means.reshape(batch, joints, COMPONENTS, 2), weights.reshape(batch, joints, -1)


def gmm(maps: np.ndarray, sigma: float) -> np.ndarray:
    return _heaviest(*_fit_maps(maps, fit_batched))


def gmm_sklearn(maps: np.ndarray, sigma: float) -> np.ndarray:
    return _heaviest(*_fit_maps(maps, fit_sklearn))


def deduplicate(means: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Seed 000's de-duplication for one image: means ``(J, K, 2)``, weights ``(J, K)`` ->
    points ``(J, 2)``. Components of all joints in decreasing weight; a lateral joint takes
    the first of its components that weighs at least ``MIN_WEIGHT`` and lies at least
    ``MIN_DISTANCE`` from every coordinate accepted so far; every other joint (and a lateral
    one left without) takes its heaviest component."""
    points = _heaviest(means, weights)
    accepted: dict[int, np.ndarray] = {}
    order = np.argsort(-weights, axis=None, kind="stable")
    for joint, component in zip(*np.unravel_index(order, weights.shape)):
        if joint in accepted or joint not in LATERAL or weights[joint, component] < MIN_WEIGHT:
            continue
        mean = means[joint, component]
        if any(np.hypot(*(mean - other)) < MIN_DISTANCE for other in accepted.values()):
            continue
        accepted[joint] = mean
    for joint, mean in accepted.items():
        points[joint] = mean
    return points


def dedup_gmm(maps: np.ndarray, sigma: float) -> np.ndarray:
    means, weights = _fit_maps(maps, fit_batched)
    return np.stack([deduplicate(m, w) for m, w in zip(means, weights)])
