"""The ``rota`` command line."""
