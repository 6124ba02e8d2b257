"""Repository-only tooling (not shipped in the envpromote wheel): CI plan, bandit and advisory checks,
and this repository's development tasks (app, bench, ci) that the root ``tasks.py`` adds to the product's.
"""
