"""Real data in: Landsat Level-1 scenes, radiometry, glacier inventories, STAC catalogues, downloads.

One module per question: ``landsat`` (which files make a scene, and what the MTL says),
``radiometry`` (DN to TOA reflectance and brightness temperature, every sensor constant),
``inventory`` (glacier vectors: read, repair, reproject, rasterise), ``stac`` (search and load
acquisitions from a catalogue), ``download`` (fetch public files with checksums), ``sources``
(the scenes the study trains on, from any of these or from the simulator), ``study_files``
(a study's files checked from their headers before anything long starts).
"""
