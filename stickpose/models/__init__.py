"""Model zoo: backbones (one file each) x heads, built by ``registry.build_model``."""
