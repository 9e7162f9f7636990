"""Shipped routing policies (YAML), installed as the ``router.policies`` package."""
