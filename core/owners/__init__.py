"""What business owners do through their hub's LINE account, in channel-neutral terms.

bots/line turns LINE webhook events into `OwnerEvent`s; the handlers here change the record
and write the answers to the outbox in the same transaction (invariant 4).
"""
