"""Where a case goes: the hub, the coordinators who fit it, the partners who should take part.

Pure functions over plain values, so the same rules serve LINE intake, Slack hand-overs
and the CCO's reassignments.
"""
