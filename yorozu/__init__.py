"""Composition root: settings, bootstrap, the FastAPI app factory, process roles and the CLI.

The only package allowed to know every other one; core/ knows none of them.
"""
