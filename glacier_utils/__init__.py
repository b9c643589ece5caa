"""glacier_utils: the package behind the glacier-outlines book (a reproduction of Chen et al. 2022, JSTARS)."""

import os

# TensorFlow's C++ start-up lines (CUDA probing, oneDNN notices) drown notebook output; keep its
# warnings and errors. A user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
