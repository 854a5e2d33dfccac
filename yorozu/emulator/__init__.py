"""The emulator page: the whole front door on a laptop, with no LINE or Slack account.

`runtime` owns the local stand-ins and the movable clock; `router` serves the page and the
small JSON API it uses. The page itself sends every webhook and Slack request to the
service's real, signature-checked endpoints.
"""
