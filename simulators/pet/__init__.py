"""PET: Monte Carlo emission on a ring scanner, sinograms, MLEM/OSEM reconstruction."""
