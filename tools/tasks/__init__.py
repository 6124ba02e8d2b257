"""This repository's development tasks (``dev``, ``test``, ``bench.*``, ``ci.*``), same shape as the product's
task modules: each exports ``ROOT_TASKS`` and ``COLLECTIONS``. The root ``tasks.py`` adds them to
:data:`envpromote.tasks.namespace`.
"""
