"""Model zoo: backbones (one file each) x heads, built by ``build.build_model``."""
