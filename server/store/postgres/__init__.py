"""The store on PostgreSQL (psycopg 3), for several processes and nodes: store.py."""
