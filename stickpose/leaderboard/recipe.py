"""The settings every entry of ``stickpose leaderboard run`` shares (only arch, head and seed
change); a module of its own so that the command line reads them without TensorFlow."""

SWEEP_SETTINGS = dict(input_size=64, width=16, schedule="constant", epochs=1000,
                      steps_per_epoch=50, patience=1000)
