"""`yorozu demo`: the whole story of the front door, headless, printed as a timeline.

story.py holds the steps, world.py the running service and the helpers that act through its
webhooks and read the stand-ins, timeline.py the formatting, cli.py the command.
"""
