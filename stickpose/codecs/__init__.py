"""Target formats: heatmap encoding/decoding and normalised coordinates."""
