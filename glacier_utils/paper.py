"""The published numbers of Chen et al. (2022), Tables I-VI, as tidy pandas DataFrames.

Source: L. Chen, W. Zhang, Y. Yi, Z. Zhang and S. Chao, "Long Time-Series Glacier Outlines in the
Three-Rivers Headwater Region From 1986 to 2021 Based on Deep Learning", IEEE JSTARS 15 (2022),
doi:10.1109/JSTARS.2022.3189277 (see :data:`CITATION`).

Every number below is transcribed by hand from the paper's tables, never recomputed; the
notebooks compare this project's results with them. Tables use the keys of
:mod:`glacier_utils.config` (``config.AREAS``, ``config.PERIOD_LABELS``, ``config.METHOD_LABELS``,
``config.CHANGE_INTERVALS``); each ``table_*`` function returns a fresh DataFrame in long ("tidy")
form and each ``wide_table_*`` function pivots it back to the paper's layout for display.

Discrepancies in the paper's own numbers (the tables are transcribed as printed):

* §II-C lists 133038 in testing area 3; Table I and Fig. 1 have 135038 (``config.AREA_SCENES``
  follows Table I).
* §III-D says "1986–1998" for the first period; Table V(a) shows it means 1986–1988. The same
  paragraph calls 1986–1988 and 2019–2021 "1986–2003" and "2003–2021", and quotes the training
  area's and testing area 2's km² a⁻¹ rates with a "% a⁻¹" unit.
* §III-C quotes OA drops from scene 1 to testing area 3 of 1.09 (GlacierNet), 1.31 (U-Net+cSE)
  and 1.23 (SaU-Net) points; Table III gives 2.29, 1.34 and 1.18.
* Table III: in three rows kappa does not follow from the printed precision, recall and OA (the
  confusion matrix those three fix gives a kappa 0.15-0.72 points away; see
  :data:`TABLE_III_KAPPA_INCONSISTENT`). For GlacierNet in testing area 3 the kappa fits an OA of
  95.30, which is what §III-C's quoted OA drop (96.39 - 1.09) gives; the printed OA is 94.10.
* Table I's SCGI images of 134037 (20070930), 136037 (20100429) and 137036 (20070919) are not among
  Table IV's 2007–2009 images, although §IV-B says the SCGI images were reused for 2007–2009.
* Table IV: several cells lost a date or a cloud percentage in the text we transcribe from (see
  :func:`table_iv`), and seven dates do not fit the 16-day repeat cycle of their WRS-2 path
  (:data:`TABLE_IV_OFF_CYCLE_DATES`), so they are probably misprints.
* Table VI: region (c) has a 2007 row under Ye et al. [65] identical to the SCGI row, although
  [65] covers 1969–2002 and the text cites only its 1992 and 2002 areas.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from glacier_utils import config, study
from glacier_utils.metrics import METRIC_NAMES

CITATION = (
    "Chen, L., Zhang, W., Yi, Y., Zhang, Z., & Chao, S. (2022). Long Time-Series Glacier Outlines "
    "in the Three-Rivers Headwater Region From 1986 to 2021 Based on Deep Learning. IEEE Journal "
    "of Selected Topics in Applied Earth Observations and Remote Sensing, 15, 5734-5752. "
    "https://doi.org/10.1109/JSTARS.2022.3189277"
)
DOI = "10.1109/JSTARS.2022.3189277"

METRIC_LABELS: dict[str, str] = {
    "precision": "Precision (%)",
    "recall": "Recall (%)",
    "f1": "F1 (%)",
    "kappa": "Kappa (%)",
    "oa": "OA (%)",
}
#: Table V's area columns: the whole THR, then the four subareas of ``config.AREAS``.
TABLE_V_AREAS: tuple[str, ...] = ("total", *config.AREAS)
TABLE_V_AREA_LABELS: dict[str, str] = {"total": "THR", **config.AREA_LABELS}
#: Table III's scenes: scene 1 (random split) and the three testing areas of scene 2.
TABLE_III_SCENES: tuple[str, ...] = ("scene_1", *config.TESTING_AREAS)
TABLE_III_SCENE_LABELS: dict[str, str] = {scene: study.AREA_LABELS[scene] for scene in TABLE_III_SCENES}

#: The paper's data-preparation counts (§II-B Steps 3, 5, 7; §II-C Scene 1), shown beside ours.
TILE_COUNTS: dict[str, int] = {
    "label tiles (unique locations)": 692,
    "image tiles (multi-date / overlap expansion)": 999,
    "samples (after x4 augmentation)": 3996,
    "scene1_paper/train+validation": 2797,
    "scene1_paper/test": 1199,
}

# --------------------------------------------------------------------------------------------
# Table I: the SCGI's Landsat-5 images, one row per WRS-2 scene
# --------------------------------------------------------------------------------------------
_TABLE_I = (
    # wrs2, dates (YYYYMMDD), cloud cover (%), glacier area (km²)
    ("132037", ("20070714",), (3.00,), 3.11),
    ("133035", ("20070923",), (4.00,), 0.67),
    ("133036", ("20090811",), (1.00,), 102.97),
    ("134037", ("20070930",), (1.00,), 9.24),
    ("135037", ("20070921",), (2.00,), 38.07),
    ("135038", ("20070820",), (13.00,), 16.36),
    ("136037", ("20100429",), (32.00,), 197.83),
    ("137036", ("20070919",), (0.00,), 2.20),
    ("137037", ("20070919",), (1.00,), 340.95),
    ("138035", ("20090830", "20100902"), (0.00, 1.00), 261.02),
    ("138037", ("20070505",), (3.00,), 1164.88),
    ("139035", ("20060914", "20070731"), (3.00, 2.00), 778.93),
    ("139036", ("20070731",), (1.00,), 152.34),
)

# --------------------------------------------------------------------------------------------
# Table II: the band-ratio threshold sweep (percent); 3.1 is the optimum
# --------------------------------------------------------------------------------------------
_TABLE_II = (
    # threshold, precision, recall, F1, kappa, OA
    (1.5, 84.98, 98.01, 91.03, 88.07, 95.53),
    (1.7, 86.79, 97.69, 91.92, 89.29, 96.02),
    (1.9, 88.22, 97.36, 92.57, 90.18, 96.38),
    (2.1, 89.36, 96.98, 93.01, 90.79, 96.62),
    (2.3, 90.35, 96.58, 93.36, 91.27, 96.82),
    (2.5, 91.15, 96.12, 93.57, 91.56, 96.94),
    (2.7, 91.77, 95.68, 93.68, 91.73, 97.01),
    (2.9, 92.34, 95.21, 93.75, 91.83, 97.06),
    (3.1, 92.82, 94.75, 93.77, 91.87, 97.08),
    (3.3, 93.24, 94.21, 93.72, 91.82, 97.07),
    (3.5, 93.64, 93.49, 93.57, 91.63, 97.02),
    (3.7, 93.96, 92.60, 93.27, 91.27, 96.91),
)
OPTIMAL_THRESHOLD = 3.1

# --------------------------------------------------------------------------------------------
# Table III: the eight methods in scene 1 and the three testing areas of scene 2 (percent)
# --------------------------------------------------------------------------------------------
# Rows per scene in config.METHOD_LABELS order (the paper prints "Band Radio" for band ratio).
_TABLE_III = {
    "scene_1": (
        (92.55, 94.91, 93.71, 91.79, 97.08),
        (95.27, 96.60, 95.93, 94.69, 98.10),
        (95.55, 95.96, 95.76, 94.47, 98.02),
        (97.03, 87.07, 91.78, 89.48, 96.39),
        (96.61, 94.88, 95.74, 94.46, 98.00),
        (96.81, 95.10, 95.95, 94.78, 98.12),
        (95.93, 94.97, 95.45, 94.09, 97.91),
        (96.03, 95.99, 96.01, 94.81, 98.16),
    ),
    "testing_1": (
        (93.08, 95.07, 94.06, 91.29, 96.22),
        (94.11, 95.91, 95.00, 92.67, 96.82),
        (94.75, 95.47, 95.11, 92.93, 96.98),
        (93.89, 93.36, 93.62, 90.70, 95.99),
        (96.34, 91.13, 93.66, 90.86, 96.11),
        (96.63, 94.32, 95.46, 93.43, 97.72),
        (96.79, 93.98, 95.36, 93.27, 97.12),
        (96.74, 94.02, 95.36, 93.28, 97.12),
    ),
    "testing_2": (
        (94.21, 92.59, 93.39, 91.29, 96.81),
        (96.44, 88.59, 92.35, 90.02, 96.43),
        (95.77, 89.92, 92.75, 90.51, 96.75),
        (94.58, 84.04, 89.00, 85.74, 94.95),
        (97.25, 83.13, 89.64, 86.64, 95.32),
        (96.50, 88.83, 92.51, 90.23, 96.50),
        (97.76, 81.20, 88.71, 85.51, 94.90),
        (95.05, 92.26, 93.63, 91.63, 96.95),
    ),
    "testing_3": (
        (78.26, 75.84, 77.03, 75.21, 96.62),
        (59.68, 87.88, 71.09, 68.26, 94.66),
        (74.07, 82.92, 78.25, 76.56, 96.89),
        (66.55, 74.46, 70.28, 67.74, 94.10),
        (80.12, 76.37, 78.20, 76.49, 96.82),
        (72.91, 84.29, 78.19, 76.45, 96.78),
        (71.25, 80.45, 75.57, 73.47, 96.12),
        (76.92, 84.38, 80.48, 78.82, 96.94),
    ),
}
#: Table III rows (scene, method) whose kappa is inconsistent with their precision, recall and
#: OA by more than rounding allows (by 0.72, 0.51 and 0.15 kappa points); see the module docstring.
TABLE_III_KAPPA_INCONSISTENT: tuple[tuple[str, str], ...] = (
    ("testing_1", "unet_cse"),
    ("testing_2", "unetpp"),
    ("testing_3", "glaciernet"),
)

# --------------------------------------------------------------------------------------------
# Table IV: the Landsat images of each period, cell by cell as printed
# --------------------------------------------------------------------------------------------
# Each cell is the text of one (period, WRS-2) cell read top to bottom: "YYYYMMDD (cloud %)"
# entries separated by "/". The text we transcribe from lost some tokens (a cloud with no date
# before it, a date with no cloud after it); they are kept as printed and parsed by _parse_cell.
# "<u>...</u>" marks the underlined image (138037, 1995–1997: no image in that period).
_TABLE_IV_CELLS: dict[str, dict[str, str]] = {
    "1986–1988": {
        "132037": "19870621 (0.00%)",
        "133035": "19870815 (3.00%)",
        "133036": "19870815 (3.00%)",
        "134037": "19860615 (7.00%)",
        "135037": "19880815 (2.00%)/ (4.00%)",
        "135038": "19870626 (62.00%)/ 19881002",
        "136037": "19870820 (23.00%)/ 19880815",
        "137036": "19870624 (30.00%)/ 19881025",
        "137037": "19870624 (46%)/ 19880728 (14.00%)/ 19881016 (2.00%)",
        "138035": "19860730 (0.00%)",
        "138037": "19880719 (22.00%)/ 19881023 (1.00%)",
        "139035": "19871012 (10.00%)",
        "139036": "19881014 (3.00%)",
    },
    "1989–1991": {
        "132037": "19910830 (59.00%)",
        "133035": "19890921 (0.00%)",
        "133036": "19890921 (0.00%)/ 19910911 (19.00%)",
        "134037": "19890827 (6.00%)/ 19900830 (5.00%)",
        "135037": "19890802 (21.00%)",
        "135038": "19890802 (37.00%)/ 19910824 (33.00%)",
        "136037": "19900828 (27.00%)/ 19910714 (26.00%)",
        "137036": "19910822 (4.00%)",
        "137037": "19910822 (7.00%)/ 19911009 (0.00%)",
        "138035": "19900810 (15.00%)",
        "138037": "19910914 (0.00%)",
        "139035": "19890729 (0.00%)/ 19900817 (2.00%)",
        "139036": "19890729 (0.00%)",
    },
    "1992–1994": {
        "132037": "19920906 (41.00%)",
        "133035": "19940802 (4.00%)",
        "133036": "19930831 (6.00%)",
        "134037": "19920803 (0.00%)",
        "135037": "19940731 (3.00%)",
        "135038": "19920810 19940715 (7.00%)",
        "136037": "19940924 (0.00%)",
        "137036": "19940814 (0.00%)",
        "137037": "19940814 (2.00%)",
        "138035": "19940821 (0.00%)",
        "138037": "19940805 (0.00%)",
        "139035": "19930910 (0.00%)",
        "139036": "19940929 (0.00%)",
    },
    "1995–1997": {
        "132037": "19960816 (7.00%)/ (26.00%)",
        "133035": "19950821 (7.00%)",
        "133036": "19970810 (1.00%)",
        "134037": "19950812 (2.00%)",
        "135037": "19950904 (4.00%)/ (3.00%)",
        "135038": "19950904 (32.00%)/ (18.00%)/ 19970909",
        "136037": "19950725 (3.00%)/ (6.00%) (28.00%)",
        "137036": "19950902 (2.00%)",
        "137037": "19950817 (1.00%)/ (12.00%)",
        "138035": "19970728 (2.00%)",
        "138037": "<u>19940922</u> (0.00%)",
        "139035": "19960716 (9.00%)/ 19970719 (0.00%)",
        "139036": "19960716 (3.00%)",
    },
    "1998–2000": {
        "132037": "19990825 (40.00%)",
        "133035": "19990731 (1.00%)",
        "133036": "19980914 (17.00%)/ 19990731 (3.00%)/ 20000701 (29.00%)",
        "134037": "19990924 20000715 (4.00%)",
        "135037": "19990729 (13.00%)/ (4.00%)",
        "135038": "19980928 (2.00%) 20000715 (4.00%)",
        "136037": "19980717 (0.00%)",
        "137036": "19980910 (8.00%)",
        "137037": "19980809 (0.00%)",
        "138035": "19980816 (0.00%)",
        "138037": "19980917 (42.00%)/ 20000821 (9.00%)/ 19990826 (42.00%)",
        "139035": "19980823 (42.00%)/ 19980908 (33.00%)/ 19990826 (42.00%)",
        "139036": "19990709 (5.00%)/ 19990725 (2.00%)/ 19990826 (42.00%)",
    },
    "2001–2003": {
        "132037": "20010814 (1%)",
        "133035": "20010720 (15.00%)/ 20030827 (55.00%)",
        "133036": "20010720 (14.00%)/ (15.00%)/ (10.00%)",
        "134037": "20020815 (6.00%)/ 20020831 (8.00%)",
        "135037": "20010904 (10.00%)/ 20020907 (5.00%)",
        "135038": "20010904 (28.00%)/ 20020907 (18.00%)",
        "136037": "20010709 (7.00%) 20020829 (57.00%)",
        "137036": "20020804 (10.00%)",
        "137037": "20020804 (24.00%)/ (24.00%)/ 20030807 (25.00%)",
        "138035": "20010723 (14.00%)",
        "138037": "20010723 (11.00%)/ (12.00%)/ 20031017 (1.00%)",
        "139035": "20030922 (0.00%) 20030922",
        "139036": "20011103 20011103 20030922 (0.00%) (0.00%)",
    },
    "2004–2006": {
        "132037": "20040806 (0%)",
        "133035": "20060904 (41.00%)",
        "133036": "20040914 (1.00%)/ 20050715 (21.00%)",
        "134037": "20060725 (4.00%)",
        "135037": "20060801 (8.00%)",
        "135038": "20040811 (45.00%)/ 20060801 (29.00%)",
        "136037": "20040903 (10.00%)/ (41.00%)/ 20060808 (14.00%)",
        "137036": "20060714 (11.00%)",
        "137037": "20040926 (22.00%)/ (31.00%)/ (20.00%)",
        "138035": "20060907 (12.00%)",
        "138037": "20040901 (24.00%)/ 20060907 (20.00%)",
        "139035": "20060728 (30.00%)/ 20060914 (3.00%)",
        "139036": "20040519 (1.00%)/ 20040908 (16.00%)",
    },
    "2007–2009": {
        "132037": "20070714 (3%)",
        "133035": "20070822 (5.00%)/ 20070923 (4.00%)",
        "133036": "20090811 (1.00%)",
        "134037": "20070914 (5.00%)",
        "135037": "20070921 (2.00%)",
        "135038": "20070820 (13.00%)",
        "136037": "20090816 (27.00%)",
        "137036": "20070802 (9.00%)",
        "137037": "20070802 (0.00%)/ 20070919 (1.00%)",
        "138035": "20090830 (0.00%)",
        "138037": "20070505 (3.00%)",
        "139035": "20070731 (2.00%)",
        "139036": "20070731 (1.00%)/ 20090704 (13.00%)",
    },
    "2010–2012": {
        "132037": "20110725 (1%)",
        "133035": "20100814 (4.00%)",
        "133036": "20100814 (1.00%)",
        "134037": "20110919 (2.00%)",
        "135037": "20110831 (2.00%)",
        "135038": "20100828 (26.00%)/ 20110831 (11.00%)",
        "136037": "20110806 (8.00%)/ (23.00%)",
        "137036": "20100725 (1.00%)",
        "137037": "20100725 (11.00%)/ 20110829 (7.00%)",
        "138035": "20100902 (1.00%)",
        "138037": "20100630 (39.00%)/ 20100801 (8.00%)",
        "139035": "20100504 (7.00%) (1.00%)",
        "139036": "20100707 (18.00%)/ 20110811 (29.00%)",
    },
    "2013–2015": {
        "132037": "20140919 (4.72%)",
        "133035": "20140809 (18.20%)",
        "133036": "20150812 (1.31%)",
        "134037": "20130813 (0.04%)",
        "135037": "20150725 (2.06%)",
        "135038": "20150927 (2.67%)",
        "136037": "20130811 (5.06%)",
        "137036": "20130802 (0.13%)",
        "137037": "20130802 (0.51%)",
        "138035": "20130622 (13.97%)/ (0.23%)",
        "138037": "20130809 (20.92%)/",
        "139035": "20130731 (0.81%)",
        "139036": "20130731 (1.66%)",
    },
    "2016–2018": {
        "132037": "20160807 (15.42%)",
        "133035": "20160729 (0.81%)",
        "133036": "20160627 (6.43%)/ 20160729 (3.29%)",
        "134037": "20160821 (2.70%)",
        "135037": "20160727 (5.20%)",
        "135038": "20160727 (8.80%)/ 20170916",
        "136037": "20160819 (7.14%)/ (22.82%) (54.15%)",
        "137036": "20180715 (1.58%)",
        "137037": "20160725 (7.78%)/ 20160810 (8.35%)",
        "138035": "20160801 (2.54%)",
        "138037": "20160716 (23.85%)/ (0.25%)",
        "139035": "20160909 (2.03%)",
        "139036": "20170811 (1.51%)",
    },
    "2019–2021": {
        "132037": "20200903 (5.35%)",
        "133035": "20200825 (0.53%)",
        "133036": "20200825 (0.12%)",
        "134037": "20190729 (10.33%)",
        "135037": "20190821 (55.79%)/ 20210725 (46.30%)",
        "135038": "20200823 (44.45%)/ 20210810 (65.96%)",
        "136037": "20200830 (6.75%)",
        "137036": "20200922 (1.20%)",
        "137037": "20190819 (16.62%)/ (7.51%)",
        "138035": "20200929 (0.12%)",
        "138037": "20190725 (0.44%)",
        "139035": "20200819 (4.03%)",
        "139036": "20200819 (2.77%)",
    },
}
# Two cells print a date twice, so reading them token by token would invent images; they are
# read by hand instead: one date and one cloud per image, in printed order.
_TABLE_IV_READINGS: dict[tuple[str, str], tuple[tuple[str, float], ...]] = {
    ("2001–2003", "139035"): (("20030922", 0.0),),
    ("2001–2003", "139036"): (("20011103", 0.0), ("20030922", 0.0)),
}
#: Table IV dates that do not fit the 16-day repeat cycle of their WRS-2 path (every other date
#: of that path, in Tables I and IV, does), so they are probably misprints in the paper. Three
#: repeat a date of a neighbouring column (135037 19880815, 135038 20000715, 139035 19990826).
TABLE_IV_OFF_CYCLE_DATES: tuple[tuple[str, str, str], ...] = (
    # period, wrs2, date
    ("1986–1988", "134037", "1986-06-15"),
    ("1986–1988", "136037", "1988-08-15"),
    ("1986–1988", "137036", "1988-10-25"),
    ("1989–1991", "132037", "1991-08-30"),
    ("1998–2000", "134037", "2000-07-15"),
    ("1998–2000", "138037", "1999-08-26"),
    ("2010–2012", "134037", "2011-09-19"),
)
#: The one image outside its period, underlined in Table IV (no 138037 image in 1995–1997).
TABLE_IV_OUT_OF_PERIOD = ("1995–1997", "138037", "1994-09-22")

# --------------------------------------------------------------------------------------------
# Table V: glacier area per period and area changes (km², ± uncertainty)
# --------------------------------------------------------------------------------------------
_TABLE_VA = {
    # period: (total, training, testing_1, testing_2, testing_3), each (area, uncertainty)
    "1986–1988": ((2518.65, 72.69), (1405.86, 37.77), (713.48, 13.92), (119.33, 41.05), (279.98, 16.90)),
    "1989–1991": ((2482.42, 72.72), (1384.03, 37.91), (710.62, 13.74), (118.17, 41.43), (269.59, 16.93)),
    "1992–1994": ((2468.93, 72.79), (1373.97, 37.95), (710.49, 13.70), (118.18, 40.36), (266.30, 17.10)),
    "1995–1997": ((2441.26, 72.62), (1361.61, 37.85), (706.20, 13.67), (114.55, 43.05), (258.90, 16.81)),
    "1998–2000": ((2404.11, 71.88), (1343.79, 37.53), (696.01, 13.59), (114.40, 39.53), (249.90, 16.80)),
    "2001–2003": ((2392.54, 70.80), (1348.26, 36.92), (693.87, 13.46), (111.63, 43.06), (238.78, 16.11)),
    "2004–2006": ((2344.12, 71.27), (1319.56, 37.26), (684.22, 13.43), (110.12, 43.36), (230.21, 16.24)),
    "2007–2009": ((2303.75, 70.51), (1297.14, 37.18), (682.25, 13.53), (106.65, 43.01), (217.72, 15.50)),
    "2010–2012": ((2256.21, 72.15), (1262.80, 38.14), (687.32, 13.45), (100.25, 48.06), (205.84, 15.75)),
    "2013–2015": ((2209.73, 73.17), (1241.87, 38.62), (672.84, 14.20), (98.61, 45.60), (196.41, 15.78)),
    "2016–2018": ((2163.58, 72.93), (1219.42, 38.79), (666.35, 14.05), (95.43, 45.97), (182.37, 15.49)),
    "2019–2021": ((2102.25, 72.56), (1173.83, 38.70), (661.20, 14.28), (91.05, 45.33), (176.15, 15.05)),
}
_TABLE_VB_QUANTITIES: tuple[str, ...] = ("change_km2", "change_pct", "rate_km2_per_a", "rate_pct_per_a")
_TABLE_VB_QUANTITY_LABELS: dict[str, str] = {
    "change_km2": "Area change (km²)",
    "change_pct": "Area change (%)",
    "rate_km2_per_a": "Area change rate (km² a⁻¹)",
    "rate_pct_per_a": "Area change rate (% a⁻¹)",
}
_TABLE_VB = {
    # area: quantity -> one (value, uncertainty) per interval 1986–2003, 2003–2021, 1986–2021
    "total": {
        "change_km2": ((-126.11, 101.47), (-290.29, 101.38), (-416.40, 102.71)),
        "change_pct": ((-5.01, 4.03), (-12.13, 4.24), (-16.53, 4.08)),
        "rate_km2_per_a": ((-7.42, 5.97), (-16.13, 5.63), (-11.90, 2.93)),
        "rate_pct_per_a": ((-0.29, 0.24), (-0.67, 0.24), (-0.47, 0.12)),
    },
    "training": {
        "change_km2": ((-57.60, 52.82), (-174.43, 53.49), (-232.03, 54.08)),
        "change_pct": ((-4.10, 3.76), (-12.94, 3.97), (-16.50, 3.85)),
        "rate_km2_per_a": ((-3.39, 3.11), (-9.69, 2.97), (-6.63, 1.55)),
        "rate_pct_per_a": ((-0.24, 0.22), (-0.72, 0.22), (-0.47, 0.11)),
    },
    "testing_1": {
        "change_km2": ((-19.61, 19.36), (-32.67, 19.62), (-52.28, 19.94)),
        "change_pct": ((-2.75, 2.71), (-4.71, 2.83), (-7.33, 2.80)),
        "rate_km2_per_a": ((-1.15, 1.14), (-1.82, 1.09), (-1.49, 0.57)),
        "rate_pct_per_a": ((-0.16, 0.16), (-0.26, 0.16), (-0.21, 0.08)),
    },
    "testing_2": {
        "change_km2": ((-7.70, 59.49), (-20.58, 62.52), (-28.28, 61.15)),
        "change_pct": ((-6.45, 49.85), (-18.44, 56.01), (-23.70, 51.25)),
        "rate_km2_per_a": ((-0.45, 3.50), (-1.14, 3.47), (-0.81, 1.75)),
        "rate_pct_per_a": ((-0.38, 2.93), (-1.02, 3.11), (-0.68, 1.46)),
    },
    "testing_3": {
        "change_km2": ((-41.20, 23.35), (-62.63, 22.05), (-103.83, 22.63)),
        "change_pct": ((-14.72, 8.34), (-26.23, 9.23), (-37.08, 8.08)),
        "rate_km2_per_a": ((-2.42, 1.37), (-3.48, 1.22), (-2.97, 0.65)),
        "rate_pct_per_a": ((-0.87, 0.49), (-1.46, 0.51), (-1.06, 0.23)),
    },
}

# --------------------------------------------------------------------------------------------
# Table VI: comparison with earlier glacier areas in four regions
# --------------------------------------------------------------------------------------------
TABLE_VI_REFERENCES: dict[str, str] = {
    "[63]": "Wang et al. (2015), Anyemaqen mountain",
    "[64]": "Jiang et al. (2012), Malan mountain",
    "[65]": "Ye et al. (2006), Geladandong mountain",
    "[66]": "Zhang et al. (2020), Xinqingfeng and Malan ice caps",
    "SCGI": "Second Chinese Glacier Inventory (Liu et al., 2015)",
}
_TABLE_VI = (
    # region, year, previous study (km²), present study (km²), relative error (%), reference
    ("a", 1992, 109.21, 112.45, 2.97, "[63]"),
    ("a", 2001, 102.80, 107.00, 4.09, "[63]"),
    ("a", 2010, 99.34, 96.59, 2.77, "[63]"),
    ("a", 2009, 103.52, 102.09, 1.38, "SCGI"),
    ("b", 1994, 196.14, 195.72, 0.21, "[64]"),
    ("b", 2002, 192.81, 192.36, 0.23, "[64]"),
    ("b", 2010, 191.44, 191.27, 0.09, "[64]"),
    ("b", 2007, 188.80, 189.90, 0.58, "SCGI"),
    ("c", 1992, 869.17, 864.12, 0.58, "[65]"),
    ("c", 2002, 846.81, 856.04, 1.09, "[65]"),
    ("c", 2007, 845.17, 845.44, 0.03, "[65]"),  # as printed: duplicates the SCGI row below
    ("c", 2007, 845.17, 845.44, 0.03, "SCGI"),
    ("d", 2018, 613.90, 608.42, 0.89, "[66]"),
    ("d", 2007, 612.48, 613.15, 0.11, "SCGI"),
)


# --------------------------------------------------------------------------------------------
# Public tables
# --------------------------------------------------------------------------------------------
def _iso(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


def table_i() -> pd.DataFrame:
    """Table I: the SCGI's Landsat-5 images per WRS-2 scene (13 rows), with glacier area in km²."""
    rows = [
        {
            "wrs2": wrs2,
            "area": config.area_of_scene(wrs2),
            "dates": tuple(_iso(d) for d in dates),
            "cloud_cover": clouds,
            "n_images": len(dates),
            "glacier_area_km2": glacier_km2,
        }
        for wrs2, dates, clouds, glacier_km2 in _TABLE_I
    ]
    return pd.DataFrame(rows)


def table_i_images() -> pd.DataFrame:
    """Table I with one row per image (15 rows): wrs2, area, date (Timestamp), cloud_cover (%)."""
    rows = [
        {"wrs2": wrs2, "area": config.area_of_scene(wrs2), "date": pd.Timestamp(_iso(d)),
         "cloud_cover": cloud}
        for wrs2, dates, clouds, _ in _TABLE_I
        for d, cloud in zip(dates, clouds)
    ]
    return pd.DataFrame(rows)


def table_ii() -> pd.DataFrame:
    """Table II: band-ratio precision, recall, F1, kappa, OA (%) for 12 thresholds; ``optimal`` marks 3.1."""
    frame = pd.DataFrame(_TABLE_II, columns=["threshold", *METRIC_NAMES])
    frame["optimal"] = np.isclose(frame["threshold"], OPTIMAL_THRESHOLD)
    return frame


def table_iii() -> pd.DataFrame:
    """Table III: the eight methods' metrics (%) in scene 1 and testing areas 1-3 (32 rows, tidy)."""
    rows = []
    for scene, method_rows in _TABLE_III.items():
        for method, values in zip(config.METHOD_LABELS, method_rows, strict=True):
            rows.append({
                "experiment": "scene_1" if scene == "scene_1" else "scene_2",
                "scene": scene,
                "method": method,
                **dict(zip(METRIC_NAMES, values, strict=True)),
            })
    return pd.DataFrame(rows)


def wide_table_iii() -> pd.DataFrame:
    """Table III in the paper's layout: rows (scene, method) with display labels, one column per metric."""
    frame = table_iii()
    frame["scene"] = frame["scene"].map(TABLE_III_SCENE_LABELS)
    frame["method"] = frame["method"].map(config.METHOD_LABELS)
    return frame.set_index(["scene", "method"])[list(METRIC_NAMES)].rename(columns=METRIC_LABELS)


_DATE = re.compile(r"^(?:<u>)?(\d{8})(?:</u>)?$")
_CLOUD = re.compile(r"^\(([\d.]+)%\)$")
_TOKEN = re.compile(r"<u>\d{8}</u>|\d{8}|\([^)]*\)|[^\s/]+")  # "/" only separates images


def _parse_cell(text: str) -> list[dict]:
    """Read one printed Table IV cell into images: a date opens an image, a cloud % closes it.

    A cloud with no open image gets a missing date; a date followed by another date gets a
    missing cloud; a trailing "/" announces an image whose text is lost altogether.
    """
    images: list[dict] = []
    for token in _TOKEN.findall(text):
        if match := _DATE.match(token):
            images.append({"date": _iso(match.group(1)), "cloud_cover": np.nan,
                           "underlined": token.startswith("<u>")})
        elif match := _CLOUD.match(token):
            cloud = float(match.group(1))
            if images and np.isnan(images[-1]["cloud_cover"]):
                images[-1]["cloud_cover"] = cloud
            else:
                images.append({"date": None, "cloud_cover": cloud, "underlined": False})
        else:
            raise ValueError(f"Table IV cell {text!r}: cannot read token {token!r}")
    if text.rstrip().endswith("/"):
        images.append({"date": None, "cloud_cover": np.nan, "underlined": False})
    return images


def table_iv_cells() -> pd.DataFrame:
    """Table IV as printed: one row per (period, wrs2) cell with its raw text (12 x 13 = 156 rows)."""
    rows = [
        {"period": period, "period_index": config.PERIOD_LABELS.index(period), "wrs2": wrs2,
         "area": config.area_of_scene(wrs2), "cell": cell}
        for period, cells in _TABLE_IV_CELLS.items()
        for wrs2, cell in cells.items()
    ]
    return pd.DataFrame(rows)


def table_iv() -> pd.DataFrame:
    """Table IV: one row per Landsat image: period, wrs2, area, date, cloud_cover (%), sensor, note.

    ``date`` is NaT and ``cloud_cover`` NaN where the printed text lost them; ``note`` says so.
    ``underlined`` marks the 138037 image of 1994 used for 1995–1997. The bold "main reference"
    images cannot be told apart in the text we transcribe from, so they are not recorded.
    """
    rows = []
    for cell in table_iv_cells().itertuples(index=False):
        reading = _TABLE_IV_READINGS.get((cell.period, cell.wrs2))
        if reading is not None:
            images = [{"date": _iso(d), "cloud_cover": c, "underlined": False} for d, c in reading]
            notes = [f"read by hand from the printed {cell.cell!r}"] * len(images)
        else:
            images = _parse_cell(cell.cell)
            notes = [_missing_note(image) for image in images]
        for number, (image, note) in enumerate(zip(images, notes), start=1):
            rows.append({
                "period": cell.period, "period_index": cell.period_index, "wrs2": cell.wrs2,
                "area": cell.area, "image": number, "date": pd.Timestamp(image["date"]),
                "cloud_cover": image["cloud_cover"],
                "sensor": config.sensor_for_year(config.PERIODS[cell.period_index][0]),
                "underlined": image["underlined"], "note": note,
            })
    return pd.DataFrame(rows)


def _missing_note(image: dict) -> str:
    missing = [name for name, absent in (("date", image["date"] is None),
                                         ("cloud cover", np.isnan(image["cloud_cover"]))) if absent]
    return f"{' and '.join(missing)} not legible in the source text" if missing else ""


def wide_table_iv() -> pd.DataFrame:
    """Table IV in the paper's layout: periods as rows, WRS-2 scenes as columns, printed cell text."""
    return table_iv_cells().pivot(index="period", columns="wrs2", values="cell").loc[
        list(config.PERIOD_LABELS), list(config.WRS2_IDS)]


def table_va() -> pd.DataFrame:
    """Table V(a): glacier area and its uncertainty (km²) per period for the THR ("total") and 4 subareas."""
    rows = [
        {"period": period, "period_index": config.PERIOD_LABELS.index(period), "area": area,
         "area_km2": value, "uncertainty_km2": error}
        for period, per_area in _TABLE_VA.items()
        for area, (value, error) in zip(TABLE_V_AREAS, per_area, strict=True)
    ]
    return pd.DataFrame(rows)


def wide_table_va() -> pd.DataFrame:
    """Table V(a) in the paper's layout: periods as rows, "area ± uncertainty" strings per area."""
    frame = table_va()
    frame["value"] = [f"{a:.2f} ± {e:.2f}" for a, e in zip(frame["area_km2"], frame["uncertainty_km2"])]
    wide = frame.pivot(index="period", columns="area", values="value")
    wide = wide.loc[list(config.PERIOD_LABELS), list(TABLE_V_AREAS)]
    return wide.rename(columns={a: f"{TABLE_V_AREA_LABELS[a]} (km²)" for a in TABLE_V_AREAS})


def table_vb() -> pd.DataFrame:
    """Table V(b): area change (km², %) and its rate (km² a⁻¹, % a⁻¹) ± error, per interval and area."""
    rows = []
    for area, quantities in _TABLE_VB.items():
        for i, interval in enumerate(config.CHANGE_INTERVALS):
            row = {"interval": interval, "area": area}
            for quantity in _TABLE_VB_QUANTITIES:
                value, error = quantities[quantity][i]
                row[quantity] = value
                row[f"{quantity}_err"] = error
            rows.append(row)
    return pd.DataFrame(rows)


def wide_table_vb() -> pd.DataFrame:
    """Table V(b) in the paper's layout: rows (area, quantity), one "value ± error" column per interval."""
    frame = table_vb()
    rows = []
    for record in frame.to_dict("records"):
        for quantity in _TABLE_VB_QUANTITIES:
            rows.append({"area": TABLE_V_AREA_LABELS[record["area"]],
                         "quantity": _TABLE_VB_QUANTITY_LABELS[quantity],
                         "interval": record["interval"],
                         "value": f"{record[quantity]:.2f} ± {record[f'{quantity}_err']:.2f}"})
    long = pd.DataFrame(rows)
    wide = long.pivot(index=["area", "quantity"], columns="interval", values="value")
    order = pd.MultiIndex.from_product(
        [[TABLE_V_AREA_LABELS[a] for a in TABLE_V_AREAS],
         [_TABLE_VB_QUANTITY_LABELS[q] for q in _TABLE_VB_QUANTITIES]])
    return wide.loc[order, list(config.CHANGE_INTERVALS)]


def table_vi() -> pd.DataFrame:
    """Table VI: earlier vs this study's glacier areas (km²) in regions a-d, relative error (%), reference."""
    frame = pd.DataFrame(_TABLE_VI, columns=[
        "region", "year", "previous_km2", "present_km2", "relative_error_pct", "reference"])
    frame["reference_name"] = frame["reference"].map(TABLE_VI_REFERENCES)
    duplicate = (frame["region"] == "c") & (frame["year"] == 2007) & (frame["reference"] == "[65]")
    frame["note"] = np.where(duplicate, "as printed; repeats the SCGI row, outside [65]'s 1969–2002", "")
    return frame


#: Every table by its name, for notebooks that loop over them.
TABLES = {
    "I": table_i, "II": table_ii, "III": table_iii, "IV": table_iv,
    "V(a)": table_va, "V(b)": table_vb, "VI": table_vi,
}
