"""``python -m stickpose`` runs the command line."""
from .cli import main

main()
