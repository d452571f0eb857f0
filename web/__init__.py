"""The web console (`qualiphone serve`): accounts and roles, figures, statements, mystery
campaigns, after-hours checks and the live wallboard in a browser.

It sits on top of every other area and reads only the store and the core (the same functions as
the CLI); nothing below imports it.

accounts (users, passwords, sessions, audit) → auth (the session cookie, CSRF, the login rate
limit) → app (Starlette routes and templates) ← pages/* (one module per area of the console).
"""
