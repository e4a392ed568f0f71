"""Loudness of speech: measured as ITU-R BS.1770 says, and normalised slide by slide.

`integrated_loudness` is the gated, K-weighted loudness in LUFS that ffmpeg's `ebur128`
filter reports (the K-weighting filters are applied in the frequency domain, at any sample
rate); `true_peak` estimates the peak between samples by 4x oversampling. `normalize`
brings one slide's speech to a target loudness with one gain and a look-ahead limiter that
keeps the true peak under a ceiling, so slides can be normalised one at a time, each as
soon as it is spoken, and still sound equally loud. numpy only; no ffmpeg.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

BLOCK, STEP = 0.4, 0.1  # gating blocks of 400 ms, every 100 ms (75 % overlap)
ABSOLUTE_GATE = -70.0  # LUFS
RELATIVE_GATE = -10.0  # LU below the loudness of the blocks above the absolute gate
MAX_GAIN = 20.0  # dB: a near-silent slide is not blown up into noise
LIMITER_WINDOW = 0.005  # seconds: the limiter's gain turns down this long before a peak
OVERSAMPLING_TAPS = 16  # per phase, for the true-peak estimate
DECIMATE = 8  # samples per block when working out the limiter's gain


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """Return the integrated loudness (LUFS) of mono samples in [-1, 1]; -inf when silent."""
    x = np.asarray(samples, dtype=np.float64)
    return _gated_loudness(_block_energies(k_weighted(x, rate), rate))


def true_peak(samples: np.ndarray) -> float:
    """Return the true peak (dBTP) of mono samples in [-1, 1], oversampled 4x; -inf when silent."""
    peak = float(np.max(_peak_envelope(np.asarray(samples, dtype=np.float64)), initial=0.0))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


@dataclass(frozen=True)
class Normalized:
    """One slide's speech after `normalize`: its samples and what was done to them."""

    samples: np.ndarray  # float64 in [-1, 1]
    loudness_before: float  # LUFS
    loudness: float  # LUFS, after the gain and the limiter
    gain: float  # dB applied before the limiter
    limited: float  # share of the samples the limiter turned down by more than 1 dB


def normalize(samples: np.ndarray, rate: int, *, target: float, ceiling: float) -> Normalized:
    """Bring mono speech to `target` LUFS with its true peak at most `ceiling` dBTP.

    One gain for the whole slide, then a look-ahead limiter: its gain dips smoothly (over
    LIMITER_WINDOW on either side) under every peak that would pass the ceiling, and never
    lets one through. The limiter takes some loudness away, so the gain is raised until the
    result measures `target` (to 0.1 LU; a few rounds, each cheap: the K-weighted signal and
    the peaks are computed once, and scale with the gain). Silence stays silence; a very
    quiet slide gets at most MAX_GAIN.
    """
    x = np.asarray(samples, dtype=np.float64)
    weighted = k_weighted(x, rate)
    before = _gated_loudness(_block_energies(weighted, rate))
    if not math.isfinite(before):
        return Normalized(x.copy(), before, before, 0.0, 0.0)
    peaks = _peak_envelope(x)
    limit = 10 ** (ceiling / 20)
    # The rounds work on blocks of DECIMATE samples: each block's largest peak, and its
    # share of the K-weighted energy; only the final gain is worked out sample by sample.
    blocks = -(-len(x) // DECIMATE)
    block_peaks = _blocks(peaks, DECIMATE).max(axis=1)
    block_energy = _blocks(np.square(weighted), DECIMATE).sum(axis=1)

    def measure(gain: float) -> tuple[float, np.ndarray]:
        scale = 10 ** (gain / 20)
        turn = _smooth_gain(block_peaks * scale, limit, rate) * scale
        energies = _block_energies(block_energy * np.square(turn), rate, group=DECIMATE)
        return _gated_loudness(energies), turn

    # The loudness grows with the gain, more slowly once the limiter works: secant steps.
    gain = min(target - before, MAX_GAIN)
    loudness, turn = measure(gain)
    previous: tuple[float, float] | None = None
    for _ in range(6):
        if abs(target - loudness) < 0.05 or (gain >= MAX_GAIN and loudness < target):
            break
        slope = 1.0
        if previous is not None and previous[1] != loudness:
            slope = min(1.0, max(0.05, (loudness - previous[1]) / (gain - previous[0])))
        previous = (gain, loudness)
        gain = min(gain + (target - loudness) / slope, MAX_GAIN)
        loudness, turn = measure(gain)
    scale = 10 ** (gain / 20)
    centres = np.arange(blocks) * DECIMATE + (DECIMATE - 1) / 2
    with np.errstate(divide="ignore"):
        needed = np.minimum(scale, limit / peaks)  # no sample may pass the ceiling
    fine = np.minimum(np.interp(np.arange(len(x)), centres, turn), needed)
    out = x * fine
    loudness = _gated_loudness(_block_energies(weighted * fine, rate))
    limited = float(np.mean(fine < 10 ** ((gain - 1) / 20)))
    return Normalized(out, before, loudness, gain, limited)


def to_pcm16(samples: np.ndarray) -> bytes:
    """Return float samples in [-1, 1] as little-endian signed 16-bit PCM (rounded, clipped)."""
    pcm = np.clip(np.rint(np.asarray(samples) * 32768.0), -32768, 32767).astype("<i2")
    return pcm.tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    """Return little-endian signed 16-bit PCM as float64 samples in [-1, 1)."""
    pcm = np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")
    return pcm.astype(np.float64) / 32768.0


# --- K-weighting and gating -----------------------------------------------------------------


def _k_filters(rate: int) -> tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]:
    """Return the two K-weighting biquads (b, a) at `rate`, from BS.1770's analogue prototypes."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (
        ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0),
        (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0),
    )
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    high_pass = ((1.0, -2.0, 1.0), (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0))
    return shelf, high_pass


def k_weighted(x: np.ndarray, rate: int) -> np.ndarray:
    """Return x through the K-weighting filters (linear filtering, done with one FFT)."""
    n = len(x)
    if n == 0:
        return np.zeros(0)
    size = 1 << (n + rate - 1).bit_length()  # room for a second of the filters' tails
    spectrum = np.fft.rfft(np.asarray(x, dtype=np.float32), size)
    spectrum *= _k_response(rate, size)
    return np.fft.irfft(spectrum, size)[:n].astype(np.float64)


@functools.lru_cache(maxsize=8)
def _k_response(rate: int, size: int) -> np.ndarray:
    """Return the K-weighting filters' frequency response at the bins of an rfft of `size`."""
    z = np.exp(-1j * np.pi * np.arange(size // 2 + 1) / (size // 2))  # z^-1 at each bin
    response = np.ones(len(z), dtype=np.complex128)
    for b, a in _k_filters(rate):
        response *= (b[0] + (b[1] + b[2] * z) * z) / (a[0] + (a[1] + a[2] * z) * z)
    return response.astype(np.complex64)


def _block_energies(values: np.ndarray, rate: int, *, group: int = 0) -> np.ndarray:
    """Return the mean square of every 400 ms gating block (starting every 100 ms).

    `values` are samples at `rate`, or with `group` their squares already summed over
    groups of that many samples.
    """
    size = group or 1
    step = max(1, round(STEP * rate / size))
    per_block = round(BLOCK / STEP)
    count = len(values) // step
    if count < per_block:
        return np.zeros(0)
    squares = values[: count * step] if group else np.square(values[: count * step])
    sums = np.convolve(squares.reshape(count, step).sum(axis=1), np.ones(per_block), "valid")
    return sums / (step * per_block * size)


def _blocks(x: np.ndarray, size: int) -> np.ndarray:
    """Return x as rows of `size` samples, the last row padded with zeros."""
    rows = -(-len(x) // size)
    return np.concatenate((x, np.zeros(rows * size - len(x)))).reshape(rows, size)


def _gated_loudness(energies: np.ndarray) -> float:
    """Return the loudness of gating blocks after the absolute and the relative gate."""
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(energies)
    kept = energies[levels > ABSOLUTE_GATE]
    if not len(kept):
        return -math.inf
    relative = -0.691 + 10 * math.log10(float(kept.mean())) + RELATIVE_GATE
    kept = energies[levels > max(relative, ABSOLUTE_GATE)]
    return -0.691 + 10 * math.log10(float(kept.mean()))


# --- peaks and the limiter ------------------------------------------------------------------


def _interpolation_taps(phase: float) -> np.ndarray:
    """Return a Kaiser-windowed sinc that interpolates at `phase` (0-1) past a sample."""
    half = OVERSAMPLING_TAPS // 2
    offsets = np.arange(-half + 1, half + 1) - phase
    return np.sinc(offsets) * np.kaiser(OVERSAMPLING_TAPS, 8.0)


def _peak_envelope(x: np.ndarray) -> np.ndarray:
    """Return, per sample, the largest magnitude at it and at the three quarter points after it."""
    peaks = np.abs(x)
    if len(x) < OVERSAMPLING_TAPS:
        return peaks
    half = OVERSAMPLING_TAPS // 2
    for phase in (0.25, 0.5, 0.75):
        between = np.convolve(x, _interpolation_taps(phase)[::-1], mode="full")
        np.maximum(peaks, np.abs(between[half - 1 : half - 1 + len(x)]), out=peaks)
    return peaks


def _smooth_gain(peaks: np.ndarray, limit: float, rate: float) -> np.ndarray:
    """Return a smooth gain (at most 1) per block of DECIMATE samples keeping peaks under `limit`.

    The gain each block needs is held at its minimum over a window either side, then
    averaged over the same window: every average only takes values at most what the block
    needs, so no peak passes, and the gain turns down and up again over 2 windows.
    """
    with np.errstate(divide="ignore"):
        needed = np.minimum(1.0, limit / peaks)
    if needed.min(initial=1.0) >= 1.0:
        return np.ones_like(peaks)
    half = max(1, round(LIMITER_WINDOW * rate / DECIMATE)) + 1
    return _moving_mean(_moving_min(needed, half), half)


def _moving_min(x: np.ndarray, half: int) -> np.ndarray:
    """Return the minimum of x over [i - half, i + half] for every i (van Herk/Gil-Werman)."""
    width = 2 * half + 1
    padded = np.concatenate((np.full(half, np.inf), x, np.full(half, np.inf)))
    blocks = -(-len(padded) // width)
    padded = np.concatenate((padded, np.full(blocks * width - len(padded), np.inf)))
    grid = padded.reshape(blocks, width)
    prefix = np.minimum.accumulate(grid, axis=1).ravel()
    suffix = np.minimum.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    n = len(x)
    return np.minimum(suffix[:n], prefix[width - 1 : width - 1 + n])


def _moving_mean(x: np.ndarray, half: int) -> np.ndarray:
    """Return the mean of x over [i - half, i + half], the ends repeated beyond the edges."""
    width = 2 * half + 1
    padded = np.concatenate((np.full(half, x[0]), x, np.full(half, x[-1])))
    sums = np.concatenate(([0.0], np.cumsum(padded)))
    return (sums[width:] - sums[:-width]) / width
