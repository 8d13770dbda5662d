"""stickpose: 2D keypoint estimation toolkit (Keras 3 on TensorFlow)."""
import os

# Silence TensorFlow's C++ start-up log before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
