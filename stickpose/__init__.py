"""stickpose: 2D keypoint estimation toolkit (Keras 3 on TensorFlow)."""
import os

# Silence TensorFlow's C++ start-up log (including the CUDA probe on machines without a
# GPU) before anything imports it; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
