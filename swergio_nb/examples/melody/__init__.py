"""Active-learning melody generator: a genetic algorithm proposes melodies, a network learns a person's taste.

:data:`SWERGIO_RATINGS` is the original swergio project's file of human ratings (``data/README.md`` says where it
comes from and how it is laid out).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SWERGIO_RATINGS"]

#: swergio's MelodyCreator ratings (MIT): 128-bit genomes and ratings 0-5 by a person, as a swergio CSV file.
SWERGIO_RATINGS = Path(__file__).parent / "data" / "swergio_melody_ratings.csv"
