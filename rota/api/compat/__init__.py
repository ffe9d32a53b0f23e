"""Other schedulers' APIs at their own paths (``ROTA_COMPAT``): they translate, they decide
nothing."""
