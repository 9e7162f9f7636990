"""The inspector: what was sent, page by page (``hcr inspect`` on an out folder, ``/ui`` on ``hcr serve``)."""
