"""glacier_utils: the package behind the glacier-outlines book (a reproduction of Chen et al. 2022, JSTARS)."""

import importlib.metadata
import os

# TensorFlow's C++ start-up lines (CUDA probing, oneDNN notices) drown notebook output; keep its
# warnings and errors. A user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

try:
    #: The installed version, from the git tags at build time (setuptools-scm); see glacier_utils.provenance.
    __version__ = importlib.metadata.version("glacier-utils")
except importlib.metadata.PackageNotFoundError:  # run from a folder that was never installed
    __version__ = "0+unknown"
