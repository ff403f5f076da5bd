"""B-mode imaging of a tissue slice, end to end.

The chain: scatterers drawn from the per-tissue density and reflectivity
tables (:func:`~simulators.ultrasound.scatterers.draw_scatterers`), one
pulse-echo RF record per plane-wave transmit
(:func:`~simulators.ultrasound.rf.simulate_rf`), delay-and-sum of each onto
the image grid, coherent compounding over the steering angles, envelope,
optional time-gain compensation, log compression.

Everything is in the probe frame (:mod:`simulators.ultrasound.probe`): the
caller places the probe's ``(x, z)`` plane in the world, and the image's
:class:`~simulators.ultrasound.grid.PlaneGrid` says where every pixel is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulators.ultrasound.beamform import delay_and_sum, log_compress
from simulators.ultrasound.grid import PlaneGrid
from simulators.ultrasound.probe import PULSE_SIGMAS, LinearArray, check_number
from simulators.ultrasound.rf import NEPER_PER_DB, simulate_rf
from simulators.ultrasound.scatterers import MAX_SCATTERERS, Scatterers, draw_scatterers
from simulators.ultrasound.transmit import PlaneWave
from vipkb.errors import ParameterError

__all__ = ["BModeResult", "image_scatterers", "simulate_bmode"]


@dataclass(frozen=True, kw_only=True, eq=False)
class BModeResult:
    """A simulated B-mode acquisition.

    Attributes
    ----------
    rf
        Raw RF, ``(n_transmits, n_samples, n_elements)``; sample ``n`` at ``n / fs_hz``.
    fs_hz
        RF sampling frequency.
    transmits
        The plane waves, in the order of ``rf``.
    iq
        Compounded analytic (complex) image, ``(nz, nx)`` on ``grid``.
    envelope
        ``|iq|``, time-gain compensated when asked.
    bmode_db
        Log-compressed envelope, dB relative to its maximum, in ``[-dynamic_range_db, 0]``.
    grid
        The image pixels in the probe frame (mm).
    scatterers
        The scatterers that were imaged.
    """

    rf: np.ndarray
    fs_hz: float
    transmits: tuple[PlaneWave, ...]
    iq: np.ndarray
    envelope: np.ndarray
    bmode_db: np.ndarray
    grid: PlaneGrid
    scatterers: Scatterers


def _record_length(probe: LinearArray, transmits: Sequence[PlaneWave], grid: PlaneGrid) -> int:
    """Samples that reach the deepest pixel from the farthest element, for every transmit."""
    (x_low, x_high), (_, z_high) = grid.extent_mm()
    corners_x = np.array([x_low, x_high])
    latest = max(float(t.arrival_s(probe, corners_x, np.full(2, z_high)).max()) for t in transmits)
    far = np.hypot(np.abs(corners_x[:, None] - probe.element_x_mm()[[0, -1]]).max(), z_high)
    return int(np.ceil((latest + far / probe.speed_mm_s + PULSE_SIGMAS * probe.sigma_t_s) * probe.fs_hz)) + 2


def time_gain(probe: LinearArray, z_mm: np.ndarray, attenuation_db_cm_mhz: float) -> np.ndarray:
    """Gain undoing the attenuation of an on-axis echo from depth ``z_mm`` (Gaussian pulse, path ``2 z``).

    The inverse of the amplitude factor of :mod:`simulators.ultrasound.rf`,
    ``exp(a f_c - (a sigma_f)^2 / 2)`` with ``a = alpha' 2 z``.
    """
    a = attenuation_db_cm_mhz * NEPER_PER_DB / 10.0 / 1e6 * 2.0 * np.asarray(z_mm, dtype=np.float64)
    return np.exp(a * probe.centre_frequency_hz - 0.5 * (a * probe.sigma_f_hz) ** 2)


def image_scatterers(scatterers: Scatterers, probe: LinearArray, *, grid: PlaneGrid,
                     angles_deg: Sequence[float] = (0.0,), f_number: float = 1.5, apodization: str = "hann",
                     attenuation_db_cm_mhz: float = 0.0, time_gain_compensation: bool = True,
                     dynamic_range_db: float = 60.0, workers: int | None = None) -> BModeResult:
    """Plane-wave B-mode image of given scatterers: RF per angle, DAS, coherent compounding, envelope, dB.

    Parameters
    ----------
    scatterers
        Points in the probe frame.
    probe
        The linear array.
    grid
        Image pixels (probe frame, mm).
    angles_deg
        Plane-wave steering angles, one transmit each (1 to 64 of them).
    f_number, apodization
        Receive aperture (see :func:`~simulators.ultrasound.beamform.delay_and_sum`).
    attenuation_db_cm_mhz
        Attenuation slope of the medium (0 to 5 dB/cm/MHz).
    time_gain_compensation
        Multiply the envelope by :func:`time_gain` at every depth (no effect without attenuation).
    dynamic_range_db
        Range of the log-compressed image.
    workers
        Threads for the RF and the beamformer.

    Examples
    --------
    >>> from simulators.ultrasound.probe import L11_5V
    >>> grid = PlaneGrid.spanning(x_mm=(-2.0, 2.0), z_mm=(18.0, 22.0), dx_mm=0.1, dz_mm=0.05)
    >>> point = Scatterers(x_mm=[0.5], z_mm=[20.0], amplitude=[1.0])
    >>> image = image_scatterers(point, L11_5V, grid=grid)
    >>> iz, ix = np.unravel_index(image.envelope.argmax(), grid.shape)
    >>> float(grid.x_mm()[ix]), float(grid.z_mm()[iz])
    (0.5, 20.0)
    """
    angles = tuple(float(a) for a in angles_deg)
    if not 1 <= len(angles) <= 64:
        raise ParameterError(f"give 1 to 64 steering angles; got {len(angles)}")
    transmits = tuple(PlaneWave(angle_deg=a) for a in angles)
    n_samples = _record_length(probe, transmits, grid)
    records, iq = [], np.zeros(grid.shape, dtype=np.complex128)
    for transmit in transmits:
        data = simulate_rf(scatterers, probe, transmit.delays_s(probe), attenuation_db_cm_mhz=attenuation_db_cm_mhz,
                           n_samples=n_samples, workers=workers)
        records.append(data.rf)
        iq += delay_and_sum(data, probe, transmit, grid, f_number=f_number, apodization=apodization,
                            workers=workers)
    envelope = np.abs(iq)
    if time_gain_compensation and attenuation_db_cm_mhz > 0:
        envelope *= time_gain(probe, np.maximum(grid.z_mm(), 0.0), attenuation_db_cm_mhz)[:, None]
    return BModeResult(rf=np.stack(records), fs_hz=probe.fs_hz, transmits=transmits, iq=iq, envelope=envelope,
                       bmode_db=log_compress(envelope, dynamic_range_db), grid=grid, scatterers=scatterers)


def simulate_bmode(tissue_index: np.ndarray, density_per_m3: np.ndarray, reflectivity: np.ndarray, *,
                   tissue_grid: PlaneGrid, probe: LinearArray, rng: np.random.Generator,
                   image_grid: PlaneGrid | None = None, slice_thickness_mm: float = 1.0, elevation: bool = False,
                   angles_deg: Sequence[float] = (0.0,), f_number: float = 1.5, apodization: str = "hann",
                   attenuation_db_cm_mhz: float = 0.0, time_gain_compensation: bool = True,
                   dynamic_range_db: float = 60.0, max_scatterers: int = MAX_SCATTERERS, subsample: bool = False,
                   amplitudes: str = "gaussian", workers: int | None = None) -> BModeResult:
    """Simulate a plane-wave B-mode image of a 2-D tissue slice.

    Parameters
    ----------
    tissue_index
        Integer slice ``(nz, nx)`` on ``tissue_grid``, indexing the tables.
    density_per_m3, reflectivity
        Per-tissue scatterer density (1/m^3) and reflectivity, entry 0 the background.
    tissue_grid
        Where the slice lies in the probe frame (mm): ``z`` is depth below the array.
    probe
        The linear array.
    rng
        Random generator for the scatterers: the same seed gives the same image.
    image_grid
        Output pixels; default: the slice's extent under the array (depths > 0,
        laterally within the aperture), sampled at a quarter wavelength
        axially and half a pitch laterally.
    slice_thickness_mm, elevation, max_scatterers, subsample, amplitudes
        See :func:`~simulators.ultrasound.scatterers.draw_scatterers`.
    angles_deg, f_number, apodization, attenuation_db_cm_mhz, time_gain_compensation, dynamic_range_db, workers
        See :func:`image_scatterers`.

    Examples
    --------
    >>> from simulators.ultrasound.probe import L11_5V
    >>> tissue = PlaneGrid.spanning(x_mm=(-3.0, 3.0), z_mm=(10.0, 14.0), dx_mm=0.5, dz_mm=0.5)
    >>> labels = np.ones(tissue.shape, dtype=int)
    >>> result = simulate_bmode(labels, [0.0, 1e10], [0.0, 1.0], tissue_grid=tissue, probe=L11_5V,
    ...                         rng=np.random.default_rng(1))
    >>> result.rf.shape[0], result.bmode_db.shape == result.grid.shape, float(result.bmode_db.max())
    (1, True, 0.0)
    """
    scatterers = draw_scatterers(tissue_index, density_per_m3, reflectivity, grid=tissue_grid,
                                 slice_thickness_mm=slice_thickness_mm, rng=rng, elevation=elevation,
                                 amplitudes=amplitudes, max_scatterers=max_scatterers, subsample=subsample)
    if image_grid is None:
        (x_low, x_high), (z_low, z_high) = tissue_grid.extent_mm()
        half = probe.aperture_mm / 2
        x_low, x_high = max(x_low, -half), min(x_high, half)
        z_low = max(z_low, probe.wavelength_mm)
        if x_low >= x_high or z_low >= z_high:
            raise ParameterError("the tissue slice lies outside the array's field (|x| <= aperture / 2, z > 0); "
                                 "give image_grid or move the slice under the probe")
        image_grid = PlaneGrid.spanning(x_mm=(x_low, x_high), z_mm=(z_low, z_high), dx_mm=probe.pitch_mm / 2,
                                        dz_mm=probe.wavelength_mm / 4)
    check_number("dynamic_range_db", dynamic_range_db, 1.0, 200.0)
    return image_scatterers(scatterers, probe, grid=image_grid, angles_deg=angles_deg, f_number=f_number,
                            apodization=apodization, attenuation_db_cm_mhz=attenuation_db_cm_mhz,
                            time_gain_compensation=time_gain_compensation, dynamic_range_db=dynamic_range_db,
                            workers=workers)
