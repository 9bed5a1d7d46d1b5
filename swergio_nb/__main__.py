"""``python -m swergio_nb``: the ``swergio-nb`` command."""

from .swarm.cli import main

main()
