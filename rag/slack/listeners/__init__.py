"""The Bolt listeners, by kind (Bolt's layout): `events` (mentions and direct messages), `commands` (`/ask`),
`actions` (feedback buttons); `common` holds what they share. Each listener is a plain function that tests call
with fake `client` / `respond` objects; `rag.slack.bot.register` wires them into an App."""
