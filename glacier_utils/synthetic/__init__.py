"""A seeded, physically motivated Landsat TM/OLI simulator of a Tibetan-Plateau-like region.

No real imagery of the study area ships with the project, so the book's default data come from
here (SPEC §4). The simulator builds one regional mosaic grid (EPSG:32646, 30 m) holding the 13
WRS-2 frames of the paper's Table I as overlapping windows, and on it:

* terrain: spectral-synthesis fractal noise, ridged into arêtes and valleys, on massifs whose
  bases fall from west to east as in the Three-Rivers Headwater Region (paper §II-A);
* glaciers: a pixel carries ice while the mean elevation of its upstream catchment lies above
  the equilibrium-line altitude (ELA); the 12 periods are a rising ELA calibrated per subarea to
  the paper's Table V;
* surfaces: clean ice, firn, debris-covered tongues, seasonal snow, proglacial and plateau
  lakes, rock, soil, alpine meadow (more in the east), each with a published spectrum and
  within-class variability;
* light and atmosphere: sun position for the date, cosine-of-incidence shading, cast shadows by
  ray marching, diffuse sky light, path radiance, thin and thick cloud and fog with shadows;
* sensor: reflectance -> radiance -> DN with the Landsat 5 TM calibration (uint8, saturating
  over bright snow), the OLI Level-1 scaling from 2013 (uint16), PSF blur and noise; band 6 as
  brightness temperature through Planck's law.

Modules: ``climate`` (the paper's tables and the per-area climate), ``terrain`` (relief and
glacier model), ``region`` (the region, its truth and acquisitions), ``scene`` (one acquisition),
``archive`` (every summer acquisition of a frame and period, as metadata, and the pick of one),
``level1`` (Collection 2 Level-1 export), ``inventory`` (a reference inventory with glacier ids
from the true outlines of a period, split at ice divides), ``spectra`` (surface spectra), ``calibration`` (the band
ratio on the region against the paper's Tables II-III, and the true glaciers' geometry; the
fitted settings themselves live in ``climate``), ``example_study`` (a second study outside the THR
written to disk as a user holds one: Level-1 folders or 4-band GeoTIFFs in UTM 32N, subarea
polygons, an RGI 7-like inventory and the study TOML). The sensor constants
are in `glacier_utils.io.radiometry`; the surface and cloud code tables in `glacier_utils.config`.
Everything random takes its seed from the region seed plus the acquisition, so the same call
returns the same numbers.
"""

from glacier_utils.synthetic.archive import (
    ABLATION_SEASON_END,
    ARCHIVE_CLOUD,
    ARCHIVE_COLUMNS,
    ARCHIVE_MONTHS,
    CYCLE_ANCHORS,
    LAST_TM_YEAR,
    MONTH_FAIR_LOGIT,
    ArchiveCloudClimate,
    SAME_PATH_CORRELATION,
    WRS2_PATH_STEP_DAYS,
    WRS2_REPEAT_DAYS,
    archive_cloud_cover,
    archive_dates,
    archive_sensor,
    cycle_phase,
    on_wrs2_cycle,
    period_acquisitions,
    select_acquisitions,
)
from glacier_utils.synthetic.climate import (
    AREA3_CLOUD_COVER,
    AREA_ABUNDANCE,
    AREA_CLIMATE,
    ROW_LATITUDE_DEG,
    TABLE_I_ACQUISITIONS,
    TABLE_I_GLACIER_KM2,
    TABLE_V_AREA_KM2,
    AreaClimate,
    target_area_fractions,
)
from glacier_utils.synthetic.inventory import reference_inventory, true_outlines
from glacier_utils.synthetic.level1 import (
    PROCESSING_DATE,
    QA_DILATION_PX,
    collection2_product_id,
    level1_mtl_text,
    product_id,
    qa_pixel,
    write_level1,
)
from glacier_utils.synthetic.region import (
    FRAME_SCALE,
    FRAME_TILT_DEG,
    GLACIER_SURFACES,
    MOSAIC_MARGIN_PX,
    MOSAIC_ORIGIN_XY,
    SyntheticRegion,
    generate_region,
    scene_layout,
    training_acquisitions,
    true_area_table,
    true_relative_change,
    write_true_area_table,
)
from glacier_utils.synthetic.scene import simulate_scene, sun_position
from glacier_utils.synthetic.terrain import LOWRES_FACTOR, MAX_ICE_SLOPE_DEG, spectral_noise

__all__ = [
    # the region
    "SyntheticRegion", "generate_region", "scene_layout", "GLACIER_SURFACES",
    "MOSAIC_ORIGIN_XY", "MOSAIC_MARGIN_PX", "FRAME_TILT_DEG", "FRAME_SCALE",
    # truth and acquisitions
    "true_area_table", "true_relative_change", "write_true_area_table",
    "training_acquisitions",
    # the archive of each period (metadata) and the pick of one acquisition per frame
    "period_acquisitions", "select_acquisitions", "archive_dates", "archive_sensor", "archive_cloud_cover",
    "cycle_phase", "on_wrs2_cycle", "CYCLE_ANCHORS", "WRS2_REPEAT_DAYS", "WRS2_PATH_STEP_DAYS", "LAST_TM_YEAR",
    "ARCHIVE_MONTHS", "ARCHIVE_COLUMNS", "ARCHIVE_CLOUD", "ArchiveCloudClimate", "MONTH_FAIR_LOGIT",
    "SAME_PATH_CORRELATION",
    "ABLATION_SEASON_END",
    # the paper's data and the area climate
    "TABLE_I_ACQUISITIONS", "TABLE_I_GLACIER_KM2", "AREA3_CLOUD_COVER", "TABLE_V_AREA_KM2",
    "target_area_fractions", "AreaClimate", "AREA_CLIMATE", "AREA_ABUNDANCE", "ROW_LATITUDE_DEG",
    # terrain
    "spectral_noise", "LOWRES_FACTOR", "MAX_ICE_SLOPE_DEG",
    # one acquisition
    "simulate_scene", "sun_position",
    # a second study on disk (Alpine-like, UTM 32N)
    "write_example_study",
    # Level-1 export
    "write_level1", "level1_mtl_text", "product_id", "collection2_product_id", "PROCESSING_DATE", "QA_DILATION_PX",
    "qa_pixel",
    # the reference inventory and the true outlines
    "reference_inventory", "true_outlines",
]


def __getattr__(name: str):
    """``write_example_study`` is imported on first use, so ``python -m glacier_utils.synthetic.example_study`` runs cleanly."""
    if name == "write_example_study":
        from glacier_utils.synthetic.example_study import write_example_study

        return write_example_study
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
