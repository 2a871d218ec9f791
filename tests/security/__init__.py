"""Campaigns against the services as a hostile second user would run them:
fuzzing, faults and attacks, short enough for `make test` (the long runs,
with their figures, are in `make bench`)."""
