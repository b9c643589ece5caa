"""Terrain and glacier model of the simulated region: fractal relief, valleys, ice margins.

* terrain: spectral-synthesis fractal noise, ridged into arêtes and valleys, on massifs whose
  bases fall from west to east as in the Three-Rivers Headwater Region (paper §II-A);
* glaciers: a pixel carries ice while the mean elevation of its upstream catchment (D8 flow on
  the smoothed DEM) lies above the equilibrium-line altitude (ELA), the balance-of-mass idea
  behind accumulation-area-ratio and median-elevation ELA estimates; tongues widen laterally
  into their valleys. That gives every pixel a "margin" (metres by which the ELA may rise
  before it deglaciates), so the 12 periods are a rising ELA calibrated per subarea to the
  paper's Table V.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve_triangular

from glacier_utils import config
from glacier_utils.synthetic import climate
from glacier_utils.synthetic.climate import AREA_ABUNDANCE, AREA_CLIMATE, TABLE_I_GLACIER_KM2, target_area_fractions

#: Smooth fields are stored at 1/LOWRES_FACTOR resolution.
LOWRES_FACTOR = 8
#: Steepest slope (deg) that can hold ice; steeper rock walls stay bare.
MAX_ICE_SLOPE_DEG = 48.0


def spectral_noise(shape: tuple[int, int], rng: np.random.Generator, beta: float,
                   max_wavelength_px: float | None = None, min_wavelength_px: float | None = None) -> np.ndarray:
    """Gaussian random field with power spectrum k^-beta (spectral synthesis), unit std, float32."""
    h, w = int(shape[0]), int(shape[1])
    ky = np.fft.fftfreq(h).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(w).astype(np.float32)[None, :]
    k = np.sqrt(ky * ky + kx * kx)
    k[0, 0] = 1.0
    amp = k ** np.float32(-beta / 2.0)
    if max_wavelength_px:
        amp *= 1.0 - np.exp(-((k * max_wavelength_px) ** 2))  # soft high-pass
    if min_wavelength_px:
        amp *= np.exp(-((k * min_wavelength_px) ** 2))  # soft low-pass
    amp[0, 0] = 0.0
    del k
    coeff = rng.standard_normal(amp.shape, dtype=np.float32) + 1j * rng.standard_normal(amp.shape, dtype=np.float32)
    coeff = (coeff * amp).astype(np.complex64)
    del amp
    field = sp_fft.irfft2(coeff, s=(h, w), workers=-1).astype(np.float32, copy=False)
    del coeff
    field -= field.mean()
    std = float(field.std())
    if std > 0:
        field /= std
    return field


def _upsample(lowres: np.ndarray, row0: int, col0: int, h: int, w: int) -> np.ndarray:
    """Bilinear values of a low-resolution field on a full-resolution window."""
    f = LOWRES_FACTOR
    rr = (np.arange(row0, row0 + h, dtype=np.float32) + 0.5) / f - 0.5
    cc = (np.arange(col0, col0 + w, dtype=np.float32) + 0.5) / f - 0.5
    r0 = np.clip(np.floor(rr).astype(int), 0, lowres.shape[0] - 2)
    c0 = np.clip(np.floor(cc).astype(int), 0, lowres.shape[1] - 2)
    tr = np.clip(rr - r0, 0, 1)[:, None]
    tc = np.clip(cc - c0, 0, 1)[None, :]
    rows = lowres[r0] * (1 - tr) + lowres[r0 + 1] * tr  # separable: rows first, then columns
    return (rows[:, c0] * (1 - tc) + rows[:, c0 + 1] * tc).astype(np.float32)


def _area_weights_lowres(origins: dict[str, tuple[int, int]], shape_lr: tuple[int, int], scene_px: int) -> np.ndarray:
    """Smooth weights (4, h, w) of each area group at low resolution (Gaussian around frames)."""
    f = LOWRES_FACTOR
    rr = (np.arange(shape_lr[0]) + 0.5) * f
    cc = (np.arange(shape_lr[1]) + 0.5) * f
    weights = np.zeros((len(config.AREAS),) + shape_lr, dtype=np.float32)
    sigma = 0.45 * scene_px
    for wrs2, (r0, c0) in origins.items():
        a = config.AREAS.index(config.area_of_scene(wrs2))
        gr = np.exp(-(((rr - r0 - scene_px / 2) / sigma) ** 2))
        gc = np.exp(-(((cc - c0 - scene_px / 2) / sigma) ** 2))
        weights[a] += np.outer(gr, gc).astype(np.float32)
    weights /= weights.sum(axis=0, keepdims=True) + 1e-12
    return weights


def _climate_fields(weights: np.ndarray) -> dict[str, np.ndarray]:
    """Blend each area's climate parameters into smooth low-resolution fields."""
    out = {}
    for name in ("ela_m", "meadow", "lakes", "snowline_offset_m", "haze", "fog",
                 "cloud_orography", "warm_k", "moisture"):
        vals = np.array([getattr(AREA_CLIMATE[a], name) for a in config.AREAS], dtype=np.float32)
        out[name] = np.tensordot(vals, weights, axes=1).astype(np.float32)
    return out


def _massif_amplitude(origins, shape_lr, scene_px, base_lr, ela_lr, rng) -> np.ndarray:
    """Low-resolution relief amplitude (m) of the glacierised massifs (ranges trend WNW-ESE)."""
    f = LOWRES_FACTOR
    amp = np.zeros(shape_lr, dtype=np.float32)
    rr = (np.arange(shape_lr[0], dtype=np.float32) + 0.5) * f
    cc = (np.arange(shape_lr[1], dtype=np.float32) + 0.5) * f
    scene_km2 = (scene_px * config.PIXEL_SIZE_M / 1000.0) ** 2
    for wrs2 in sorted(origins):
        r0, c0 = origins[wrs2]
        # How glacierised the frame is, from Table I (log scale: 1 km² -> 0.2, 1,000 km² -> 1).
        weight = float(np.clip(np.log10(max(TABLE_I_GLACIER_KM2[wrs2], 1.0)) / 3.07, 0.05, 1.0))
        abundance = AREA_ABUNDANCE[config.area_of_scene(wrs2)]
        n = max(1, int(round(weight * scene_km2 / 110.0)))
        for _ in range(n):
            cr = r0 + scene_px * rng.uniform(0.25, 0.75)
            ccol = c0 + scene_px * rng.uniform(0.25, 0.75)
            radius_px = rng.uniform(2500.0, 4000.0) * (0.5 + 0.5 * weight) / config.PIXEL_SIZE_M
            ir, ic = int(cr // f), int(ccol // f)
            ir = min(max(ir, 0), shape_lr[0] - 1)
            ic = min(max(ic, 0), shape_lr[1] - 1)
            peak_above_ela = (150.0 + 1000.0 * weight * rng.uniform(0.6, 1.0)) * abundance
            a = ela_lr[ir, ic] + peak_above_ela - base_lr[ir, ic]
            theta = math.radians(-15.0 + rng.normal(0, 10))
            du = (cc[None, :] - ccol) * math.cos(theta) - (rr[:, None] - cr) * math.sin(theta)
            dv = (cc[None, :] - ccol) * math.sin(theta) + (rr[:, None] - cr) * math.cos(theta)
            g = np.exp(-((du / (1.6 * radius_px)) ** 2 + (dv / radius_px) ** 2))
            np.maximum(amp, (a * g).astype(np.float32), out=amp)
    return amp


def _make_terrain(shape, origins, scene_px, rng) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fractal elevation (m) on the mosaic and the low-resolution climate fields."""
    h, w = shape
    f = LOWRES_FACTOR
    shape_lr = (-(-h // f), -(-w // f))
    weights = _area_weights_lowres(origins, shape_lr, scene_px)
    lowres = _climate_fields(weights)
    # Regional base: the THR falls from west to east (paper §II-A), with broad undulation.
    xn = np.linspace(0.0, 1.0, shape_lr[1], dtype=np.float32)[None, :]
    undulation = spectral_noise(shape_lr, rng, beta=3.5)
    base_lr = (4750.0 - 650.0 * xn + 120.0 * undulation).astype(np.float32)
    amp_lr = _massif_amplitude(origins, shape_lr, scene_px, base_lr, lowres["ela_m"], rng)
    for name, beta in (("meadow_noise", 3.0), ("debris_noise", 3.0), ("lake_noise", 2.5),
                       ("snow_noise", 2.6), ("rock_noise", 2.6)):
        lowres[name] = spectral_noise(shape_lr, rng, beta=beta)
    # Debris is now cut by rank (`SyntheticRegion.debris_margin_m`), but its old noise field is still
    # drawn so that every later field of a seed stays as it was.
    del lowres["debris_noise"]
    lowres["base_m"] = base_lr
    lowres["amplitude_m"] = amp_lr
    # Full resolution: rolling fractal relief with a ridged share for sharp crests.
    pixel = config.PIXEL_SIZE_M
    n1 = spectral_noise(shape, rng, beta=2.7, max_wavelength_px=12000 / pixel, min_wavelength_px=450 / pixel)
    relief = np.tanh(0.6 * n1) * 0.5 + 0.5  # 0..1
    ridged = np.abs(n1, out=n1)
    np.minimum(ridged, 2.5, out=ridged)
    ridged *= -1.0 / 2.5
    ridged += 1.0
    ridged *= ridged
    relief *= 0.7
    relief += 0.3 * ridged
    del ridged, n1
    fine = spectral_noise(shape, rng, beta=2.0, min_wavelength_px=2.0, max_wavelength_px=800 / pixel)
    z = np.empty(shape, dtype=np.float32)
    for r0 in range(0, h, 1024):  # row blocks keep the paper profile's memory bounded
        r1 = min(h, r0 + 1024)
        base = _upsample(base_lr, r0, 0, r1 - r0, w)
        amp = _upsample(amp_lr, r0, 0, r1 - r0, w)
        rg = relief[r0:r1]
        z[r0:r1] = base + amp * (0.12 + 0.88 * rg) + 300.0 * rg + 15.0 * fine[r0:r1]
    del relief, fine
    _carve_valleys(z)
    np.clip(z, 3500.0, 6850.0, out=z)
    return z, lowres


def _carve_valleys(z: np.ndarray, factor: int = 4, depth_m: float = 550.0, area0_cells: float = 40.0) -> None:
    """Cut dendritic valleys into the DEM in place: incision grows with upstream drainage area.

    A one-step stand-in for fluvial/glacial erosion (stream-power-like depth ~ drainage area),
    computed at 1/`factor` resolution and smoothed so that valleys come out U-shaped.
    """
    h, w = z.shape
    hc, wc = h // factor, w // factor
    coarse = z[: hc * factor, : wc * factor].reshape(hc, factor, wc, factor).mean(axis=(1, 3))
    coarse = ndimage.gaussian_filter(coarse, 1.0)
    area = _upstream_sum(coarse, np.ones(coarse.shape, bool), [np.ones(coarse.size)])[0]
    incision = depth_m * (1.0 - np.exp(-np.sqrt(area / area0_cells) * 0.35))
    incision = ndimage.gaussian_filter(incision.reshape(coarse.shape).astype(np.float32), 1.2)
    full = ndimage.zoom(incision, factor, order=1, grid_mode=True, mode="nearest")
    z[: full.shape[0], : full.shape[1]] -= full[:h, :w]


def _slope_deg(z: np.ndarray) -> np.ndarray:
    """Slope (degrees, float32) of a DEM on the 30 m grid."""
    gy, gx = np.gradient(z, config.PIXEL_SIZE_M)
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)


_D8 = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _upstream_sum(z: np.ndarray, active: np.ndarray, weights: list[np.ndarray]) -> list[np.ndarray]:
    """Sum of each weight over every active pixel's upstream catchment (D8 steepest descent).

    Upstream pixels are higher, so when `active` is an elevation threshold the restriction is
    exact. Accumulation solves (I - P) a = w on pixels sorted by elevation, a triangular sparse
    system (compiled in scipy) instead of a Python loop over pixels. Returns flat arrays over
    the whole grid (0 where inactive).
    """
    h, w = z.shape
    zf = z.ravel()
    idx = np.flatnonzero(active.ravel())
    n = idx.size
    if n == 0:
        return [np.zeros(h * w) for _ in weights]
    node = np.full(h * w, -1, dtype=np.int64)
    idx = idx[np.argsort(-zf[idx], kind="stable")]
    node[idx] = np.arange(n)
    # Steepest-descent neighbour on the 2-D grid with shifted slices (no fancy indexing).
    zp = np.pad(z.astype(np.float32), 1, mode="constant", constant_values=np.inf)
    best_drop = np.zeros((h, w), dtype=np.float32)
    best_dir = np.full((h, w), -1, dtype=np.int8)
    for k, (dr, dc) in enumerate(_D8):
        drop = (z - zp[1 + dr: 1 + dr + h, 1 + dc: 1 + dc + w]) / np.float32(math.hypot(dr, dc))
        better = drop > best_drop
        best_drop[better] = drop[better]
        best_dir[better] = k
    offsets = np.array([dr * w + dc for dr, dc in _D8] + [0], dtype=np.int64)
    dirs = best_dir.ravel()[idx]
    best = np.where(dirs >= 0, idx + offsets[dirs], -1)
    receiver = np.where(best >= 0, node[np.maximum(best, 0)], -1)
    src = np.flatnonzero(receiver >= 0)
    mat = sparse.csr_matrix(
        (np.r_[np.ones(n), -np.ones(src.size)], (np.r_[np.arange(n), receiver[src]], np.r_[np.arange(n), src])),
        shape=(n, n),
    )
    rhs = np.stack([np.asarray(wt, dtype=np.float64).ravel()[idx] for wt in weights], axis=1)
    acc = spsolve_triangular(mat, rhs, lower=True, unit_diagonal=True).reshape(n, len(weights))
    out = []
    for k in range(len(weights)):
        full = np.zeros(h * w)
        full[idx] = acc[:, k]
        out.append(full)
    return out


def _catchment_mean(z: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Mean elevation of each active pixel's upstream catchment (-inf where inactive)."""
    total, count = _upstream_sum(z, active, [z, np.ones(z.shape)])
    out = np.full(z.size, -np.inf, dtype=np.float32)
    ok = count > 0
    out[ok] = (total[ok] / count[ok]).astype(np.float32)
    return out.reshape(z.shape)


def _widen_tongues(margin: np.ndarray, z: np.ndarray, steps: int = 10,
                   cost_per_m: float = 1.0, cost_per_px: float = 12.0) -> np.ndarray:
    """Spread a valley's ice margin onto its floor and lower walls (monotone in the margin).

    A pixel inherits a neighbour's margin minus a cost for the height it sits above it and for
    the distance, so a well-fed tongue is wide and thins as the ELA rises.
    """
    field = np.where(np.isfinite(margin), margin + cost_per_m * z, -1e9).astype(np.float32)
    for _ in range(steps):
        padded = np.pad(field, 1, mode="edge")
        best = field.copy()
        for dr, dc in _D8:
            shifted = padded[1 + dr: 1 + dr + field.shape[0], 1 + dc: 1 + dc + field.shape[1]]
            np.maximum(best, shifted - cost_per_px * math.hypot(dr, dc), out=best)
        field = best
    return field - cost_per_m * z


def _glacier_margin(z: np.ndarray, ela_full_fn, shape) -> np.ndarray:
    """Per-pixel margin (m): ice exists while the ELA rise is below it."""
    h, w = shape
    margin = np.full(shape, -np.inf, dtype=np.float32)
    block = 2048
    halo = 256  # catchments and tongues near a block edge see their neighbours
    for r0 in range(0, h, block):
        for c0 in range(0, w, block):
            ra, rb = max(0, r0 - halo), min(h, r0 + block + halo)
            ca, cb = max(0, c0 - halo), min(w, c0 + block + halo)
            zb = ndimage.gaussian_filter(z[ra:rb, ca:cb], 1.5)
            ela = ela_full_fn(ra, ca, rb - ra, cb - ca)
            active = zb > ela - 800.0
            if not active.any():
                continue
            mean_up = _catchment_mean(zb, active)
            m = mean_up - ela
            m = np.maximum(m, np.where(active, zb - ela, -np.inf))
            m = _widen_tongues(m, zb)
            slope = _slope_deg(z[ra:rb, ca:cb])
            m[slope > MAX_ICE_SLOPE_DEG] = -np.inf
            rs, cs = r0 - ra, c0 - ca
            hb, wb = min(block, h - r0), min(block, w - c0)
            margin[r0:r0 + hb, c0:c0 + wb] = m[rs:rs + hb, cs:cs + wb]
    # Ice outlines are smoother than the fractal bed: smooth the margin (a fixed field, so the
    # extent stays monotone in the ELA rise); steep walls stay bare.
    cal = climate.CALIBRATION
    never = ~np.isfinite(margin)
    margin = ndimage.gaussian_filter(np.where(never, -400.0, margin), cal.margin_smooth_px)
    if cal.outline_px > 1:
        # Flat grey closing then opening: at every ELA rise the same as binary closing (nunatak
        # holes filled) then opening (ice strips narrower than outline_px removed) of the extent.
        size = (int(cal.outline_px), int(cal.outline_px))
        margin = ndimage.grey_opening(ndimage.grey_closing(margin, size=size), size=size)
    margin[never & (margin < 0)] = -np.inf
    return margin.astype(np.float32)


def _calibrate_ela_rise(margin: np.ndarray, area_index: np.ndarray) -> np.ndarray:
    """ELA rise per area and period reproducing Table V's relative areas (exact order statistics).

    Ice is monotone in the ELA rise, so the rise that leaves a target number of pixels is the
    margin of the pixel of that rank: no bisection needed.
    """
    targets = target_area_fractions()
    rise = np.zeros((len(config.AREAS), len(config.PERIODS)), dtype=np.float32)
    for a, area in enumerate(config.AREAS):
        m = margin[area_index == a]
        m = np.sort(m[m > 0.0])[::-1]
        n0 = m.size
        if n0 == 0:
            continue
        for p in range(1, len(config.PERIODS)):
            keep = int(round(targets[area].iloc[p] * n0))
            rise[a, p] = m[keep] if keep < n0 else 0.0
    return rise
