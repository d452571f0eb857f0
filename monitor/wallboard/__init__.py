"""The supervisors' wallboard: a page served by the listener, updated every second (SSE).

figures (today's and the last hour's counts and pickup rates, from the answer-time core over the
store plus the calls finished since) → board (one snapshot: live part from the listener's
LiveState, figures, agents from QueueStatus) → server (stdlib asyncio HTTP: the page, its JSON,
server-sent events, the token check) ← page (the self-contained HTML). `monitor.top` shows the
same snapshot in a terminal.
"""
