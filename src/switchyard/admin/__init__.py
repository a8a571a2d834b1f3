"""Admin operations shared by every front end (the HTTP admin API in `api/admin*.py`, the CLI, the dashboard):
validated input models, one code path from input to the store, and the JSON views of stored objects. Nothing here
knows HTTP; each front end only reads its input and writes what it gets back.

One module per concept: `base` (input parsing, store errors, paging), `limits`, `orgs`, `keys` (gateway keys),
`provider_keys` (BYOK), `credits`, `prompts`, `usage`, `webhooks` (webhooks and alert rules).
"""
