"""Test-only user modules for the decorator tests (importable as ``userhelpers``)."""
