"""APPI requests (個人情報保護法) from the people whose data we hold, and from the operator.

`find` says who a request is about (a LINE user id, a phone, a name with a business, a case
number), `export` answers 開示 with everything held about them, `correct` answers 訂正, and
`erase` answers 消去 through core.erasure, with a dry run that lists what would change. Each
writes one audit row with ids and counts only (invariant 9). The `yorozu privacy` command and
the console's privacy page are thin shells over these functions.
"""
