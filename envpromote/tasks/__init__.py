"""invoke task collections. ``tasks.py`` at the repository root assembles them into one namespace.

Each module here stays thin: parse options, call one library function, print, map errors to exit codes
(through :func:`envpromote.tasks._common.handle_errors`).
"""
