"""Live capture from the Asterisk Manager Interface.

protocol (bytes → messages) → client (asyncio session) → calls (events → CallBuilder) →
listener (queue, finalize, store, gaps) → live (state for a wallboard); replay reads recorded
captures; cli is `qualiphone listen`.
"""
