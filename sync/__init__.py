"""The offline sync protocol and merge engine, shared by the server and the clients.

It imports nothing from `server` or `clients`. The protocol, its wire types and its
conflict rules are the work of issue 3 and live here as they land.
"""
