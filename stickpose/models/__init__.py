"""Model zoo: backbones (one file each) x heads, built by ``registry.build_model``."""
from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)


def load_all() -> None:
    """Import every architecture and head module so that they register themselves, in the
    order the seed reports list them."""
    from . import resnet, unet, senet, mobilenetv2, inception, hourglass  # noqa: F401
    from . import heads  # noqa: F401
