"""A person behind the bot: the owner's own words reach a CO in Slack, the CO's answer the owner.

* `owner_side`: what an owner types outside a form (or sends: an image, a place) becomes a
  message of their open case, or opens an お問い合わせ case, and is relayed to the case's thread
  under its queue card; the owner is told when a person will answer.
* `replies`: a CO's answer (a marked thread reply or the 返信する modal) is checked, recorded
  and pushed to the owner through the outbox under the hub's and the CO's name.
* `threads`: where a case's conversation lives in Slack (the thread of its current card).

Every message is a `CaseMessage` row first (the record erasure and the App Home read); Slack
and LINE get copies through the outbox, so each is sent exactly once and in order.
"""
