"""The leaderboard: a results store (``store``), its tables and plots (``board``), sweeps."""
