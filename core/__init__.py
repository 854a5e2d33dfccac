"""The product: domain, conversations, routing and the rules of every invariant.

Plain Python plus SQLAlchemy. It imports nothing from bots/, integrations/, scheduler/ or
any web, Slack, LINE or Redis library (tests/test_architecture.py guards this); the outside
world reaches it through the small ports it defines.
"""
