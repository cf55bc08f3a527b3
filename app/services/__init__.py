"""Services: the domain rules, one module per capability.

They take plain values and a database connection, return plain results, and raise the
errors of ``app/errors.py``. They know nothing of HTTP: the edge (``app/api``, ``app/web``,
``app/cli``) parses, calls one service function and serialises.
"""
