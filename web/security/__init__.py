"""Access control for the live service: users and roles, tokens, route policy, login limits.

`install_security(app, settings)` (in `web.security.install`) wires it into the app.
"""
