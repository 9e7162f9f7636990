"""The proxy (hcr serve): app, config, the request contract and errors in the caller's wire format."""
